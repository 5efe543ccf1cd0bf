//! `kanjo demo`: a morning in Muroran, end to end on the embedded store.
//!
//! It issues riders, generates the morning's taps and rides from the feed's real trips
//! (`stop_times.txt`), with top-ups for wallet riders, health-point grants, and an election
//! check-in with a duplicate and a second attempt at another station; then an afternoon of
//! shopping at the programme's Muroran shops (town points, transport-only `bus-pt`, the SUZU
//! coin and yen: purchases, an authorisation and its partial capture, a refund, a send); runs
//! everything through the pipeline into a fresh SQLite store; and prints the operator report, the
//! shop statement and the trial balance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::civil::date;

use crate::answer::Outcome;
use crate::event::{Event, EventKind, Grant, Media, Ride, ShopPayment, Topup};
use crate::machine::{Machine, Prepared};
use crate::pipeline::{Engine, EngineConfig, SUBMISSION_EVENTS_MAX};
use crate::report;
use crate::riders::{CheckedRider, check_rider_value};
use crate::store::StoreTarget;
use crate::workload::{Commuter, CommuterConfig, Election, ElectionConfig, RiderKind, Timetable};

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
    /// Run a month instead (November: rides, shops, late uploads, then reconciliation).
    #[arg(long)]
    pub month: bool,
}

/// The repository's demo programme, found from the working directory or from this crate.
pub(crate) fn default_programme() -> PathBuf {
    let relative = Path::new("examples/muroran/programme.toml");
    if relative.exists() {
        return relative.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml")
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    if args.month {
        return crate::month_demo::run(args);
    }
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

    // 4. The afternoon: riders shop; one of them is shown in full.
    let bar = progress(0, "shopping: top-ups, grants and purchases");
    submit_stream(&engine, shopping_afternoon(&commuter), &bar, &mut tally)?;
    bar.finish();
    shopping_walkthrough(&engine, &commuter)?;

    // 5. School's out: 200 pupils get the six-month pass remotely, then ride the town bus home.
    let bar = progress(0, "pupil passes and rides");
    submit_stream(&engine, pupil_passes(&commuter), &bar, &mut tally)?;
    bar.finish();

    // 6. Tomorrow's discount, applied as `kanjo programme apply` applies it; late taps keep today's rules.
    let engine = next_day_discount(engine, &programme, &args.data)?;

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

    let (days, shops, passes, balance, taps_waiting) =
        engine.query_blocking(|machine: &Machine| {
            (
                report::operator_days(machine),
                report::shop_report(machine),
                crate::machine::passes::passes_report(machine),
                report::trial_balance(machine),
                machine.pending_taps(),
            )
        })?;
    println!(
        "\nOperator report (per operator and day; yen)\n{}",
        report::operators_to_text(&days)
    );
    println!(
        "Shop statement (店舗別売上; per shop, day and asset; points and SUZU pay ¥1 a unit)\n{}",
        report::shops_to_text(&shops)
    );
    println!(
        "Pupil passes (定期券; issued, rides covered, what the town owes the operator)\n{}",
        passes.to_text()
    );
    println!("taps still waiting for their other half: {taps_waiting}");
    println!("\nTrial balance\n{}", balance.to_text());
    engine.shutdown();
    if !balance.balanced {
        bail!("the trial balance does not hold");
    }
    println!(
        "The store is in {}: try `kanjo report operators --data {}` or `kanjo report shops --data {}`.",
        args.data.display(),
        args.data.display(),
        args.data.display()
    );
    Ok(())
}

/// The discount version 2 adds: residents ride the town bus for half fare.
const NEXT_DAY_RULE: &str = r#"
[[rules]]
id = "resident-town-bus-half"
kind = "fare_discount"
operators = ["town-bus"]
eligible = { resident_of = "012050" }
discount = { type = "percent_off", percent = 50, round = "up_10" }
funded_by = "transit-subsidy"
"#;

/// Writes version 2 of the programme into the store's directory: the same file with the new
/// rule after the others, and GTFS folders named by absolute path (the copy lives elsewhere).
fn write_next_day_programme(programme: &Path, data: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(programme)?;
    let mut doc: toml::Table = text.parse()?;
    let base = programme.parent().unwrap_or(Path::new("."));
    if let Some(toml::Value::Array(tables)) = doc.get_mut("fare_tables") {
        for table in tables.iter_mut().filter_map(|value| value.as_table_mut()) {
            if let Some(toml::Value::String(dir)) = table.get_mut("gtfs") {
                *dir = std::fs::canonicalize(base.join(&*dir))?
                    .display()
                    .to_string();
            }
        }
    }
    let path = data.join("programme-next-day.toml");
    std::fs::write(&path, toml::to_string(&doc)? + NEXT_DAY_RULE)?;
    Ok(path)
}

/// Stops the engine, applies tomorrow's discount from midnight with `kanjo programme apply`'s
/// code, starts again, and rates one resident's ride of tomorrow and a validator's late upload of
/// today's last ride: the first gets the new discount, the second today's fare.
fn next_day_discount(engine: Engine, programme: &Path, data: &Path) -> anyhow::Result<Engine> {
    let next = write_next_day_programme(programme, data)?;
    // The midnight after the last event so far (JST), so the version changes no answer given.
    let last = engine
        .query_blocking(|machine: &Machine| machine.events_until())?
        .context("the demo rated events")?;
    engine.shutdown();
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo")
        .unwrap_or(jiff::tz::TimeZone::fixed(jiff::tz::offset(9)));
    let next_day = tokyo.to_datetime(last).date().tomorrow()?;
    let midnight = tokyo.to_timestamp(next_day.at(0, 0, 0, 0))?;
    let late = (midnight - jiff::SignedDuration::from_mins(30)).to_string();
    let morning = (midnight + jiff::SignedDuration::from_hours(8)).to_string();
    let config = EngineConfig::new(
        StoreTarget::Sqlite {
            data_dir: data.to_path_buf(),
        },
        programme,
    );
    let number = crate::programme_cli::apply(config.clone(), &next, midnight)
        .context("applying tomorrow's programme")?;
    println!(
        "
明日から / from tomorrow: programme version {number} (resident half fare on the town bus) takes effect at {midnight}"
    );
    let engine = Engine::start(config).context("restarting after the new version")?;
    let resident = serde_json::json!({"rider": "demo-resident", "birth_date": "1985-12-12",
        "residence": "012050", "verified_at": "2026-04-01", "valid_until": "2027-03-31"});
    let record = check_rider_value(&resident)
        .map(CheckedRider::into_entry)
        .map_err(|(_, message)| anyhow::anyhow!(message))?;
    engine.submit_riders(vec![record])?.blocking_recv()??;
    let ride = |id: &str, at: &str| -> anyhow::Result<Prepared> {
        let value = serde_json::json!({"id": id, "type": "ride", "at": at,
            "operator": "town-bus", "rider": "demo-resident", "media": "cash"});
        Ok(Prepared::new(
            Event::from_value(&value).map_err(|e| anyhow::anyhow!("{e}"))?,
        ))
    };
    let rides = vec![
        ride("next-day-0800", &morning)?,
        ride("late-upload-2330", &late)?,
    ];
    let answers = engine.submit_prepared(rides)?.blocking_recv()??;
    let context = engine.answer_context();
    for answer in &answers {
        println!("  {}", context.to_json(&answer.id, &answer.outcome));
    }
    Ok(engine)
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

/// The programme's shops and what the afternoon's riders buy there (yen).
const AFTERNOON_SHOPS: [(&str, u64); 4] = [
    ("yakitori-ippei", 1_200),
    ("muroran-shoten", 1_800),
    ("muroran-hire", 1_500),
    ("nakajima-yaoya", 900),
];
/// Every `AFTERNOON_RIDER_STEP`-th rider of the morning goes shopping.
const AFTERNOON_RIDER_STEP: u64 = 5;

/// 2026-11-26 at `hour:minute` in Tokyo.
fn afternoon_at(hour: i8, minute: i8) -> jiff::Timestamp {
    jiff::tz::offset(9)
        .to_timestamp(date(2026, 11, 26).at(hour, minute, 0, 0))
        .expect("a fixed local time")
}

/// Some of the morning's riders top up SUZU and yen, some hold `bus-pt` (transport only), and
/// each buys at two shops; the morning's health and ride points pay first where they can.
fn shopping_afternoon(commuter: &Commuter) -> impl Iterator<Item = Event> + '_ {
    (0..commuter.rider_count())
        .step_by(AFTERNOON_RIDER_STEP as usize)
        .flat_map(move |rider| {
            let id = commuter.rider_id(rider);
            let at = afternoon_at(14, (rider % 60) as i8);
            let event = |suffix: &str, kind: EventKind| Event {
                id: format!("pm-{rider}-{suffix}"),
                at,
                kind,
            };
            let topup = |asset: &str, amount_minor: u64| {
                EventKind::Topup(Topup {
                    rider: id.clone(),
                    asset: asset.into(),
                    amount_minor,
                    source: None,
                })
            };
            let mut events = vec![
                event("suzu", topup("SUZU", 2_000)),
                event("yen", topup("JPY", 3_000)),
            ];
            if rider % 2 == 0 {
                events.push(event(
                    "bus-pt",
                    EventKind::Grant(Grant {
                        rider: id.clone(),
                        asset: "bus-pt".into(),
                        amount_minor: 500,
                        place: None,
                    }),
                ));
            }
            for visit in 0..2u64 {
                let (shop, price) =
                    AFTERNOON_SHOPS[((rider / AFTERNOON_RIDER_STEP + visit) % 4) as usize];
                events.push(event(
                    &format!("buy-{visit}"),
                    EventKind::Purchase(ShopPayment {
                        shop: shop.into(),
                        rider: id.clone(),
                        amount_minor: price + 10 * (rider % 30),
                        pay_with: None,
                        token: None,
                    }),
                ));
            }
            events
        })
}

/// Pupils issued the pass (the programme's `issue_limit`).
const PUPIL_PASSES: usize = 200;
/// Town-bus rides each pupil takes after school: the pass covers two a day, the third is paid.
const PUPIL_RIDES: u64 = 3;

/// The first `PUPIL_PASSES` elementary-school riders get the pass at 15:00 (a remote grant), then
/// ride the town bus three times: two covered, the third past the daily limit and rated normally.
fn pupil_passes(commuter: &Commuter) -> impl Iterator<Item = Event> + '_ {
    (0..commuter.rider_count())
        .filter(|&rider| commuter.rider_kind(rider) == RiderKind::Child)
        .take(PUPIL_PASSES)
        .flat_map(move |rider| {
            let id = commuter.rider_id(rider);
            let grant = Event {
                id: format!("pass-{id}"),
                at: afternoon_at(15, 0),
                kind: EventKind::Grant(Grant {
                    rider: id.clone(),
                    asset: "pupil-pass".into(),
                    amount_minor: 1,
                    place: None,
                }),
            };
            let rides = (0..PUPIL_RIDES).map(move |ride| Event {
                id: format!("pass-ride-{ride}-{id}"),
                at: afternoon_at(15, 30 + 10 * ride as i8),
                kind: EventKind::Ride(Ride {
                    operator: "town-bus".into(),
                    route: None,
                    from: None,
                    to: None,
                    rider: Some(id.clone()),
                    media: Media::Cash,
                }),
            });
            std::iter::once(grant).chain(rides)
        })
}

/// One rider's afternoon in full: points pay first, a taxi holds and then captures less, a
/// refund gives back what was paid last, and SUZU goes to a friend.
fn shopping_walkthrough(engine: &Engine, commuter: &Commuter) -> anyhow::Result<()> {
    let rider = commuter.rider_id(1);
    let friend = commuter.rider_id(2);
    let at = |hour: i8, minute: i8| afternoon_at(hour, minute).to_string();
    let events = [
        serde_json::json!({"id": "walk-suzu", "type": "topup", "at": at(15, 0), "rider": rider, "asset": "SUZU", "amount": 5000}),
        serde_json::json!({"id": "walk-muro-pt", "type": "grant", "at": at(15, 0), "rider": rider, "asset": "muro-pt", "amount": 300}),
        serde_json::json!({"id": "walk-bus-pt", "type": "grant", "at": at(15, 0), "rider": rider, "asset": "bus-pt", "amount": 400}),
        serde_json::json!({"id": "walk-yakitori", "type": "purchase", "at": at(15, 10), "shop": "yakitori-ippei", "rider": rider, "amount": 1000}),
        serde_json::json!({"id": "walk-taxi-hold", "type": "authorize", "at": at(16, 0), "shop": "muroran-hire", "rider": rider, "amount": 2000}),
        serde_json::json!({"id": "walk-taxi-fare", "type": "capture", "at": at(16, 5), "authorization": "walk-taxi-hold", "amount": 1600}),
        serde_json::json!({"id": "walk-books", "type": "purchase", "at": at(16, 40), "shop": "muroran-shoten", "rider": rider, "amount": 1500, "pay_with": ["SUZU"]}),
        serde_json::json!({"id": "walk-books-return", "type": "refund", "at": at(16, 50), "purchase": "walk-books", "amount": 500}),
        serde_json::json!({"id": "walk-send", "type": "send", "at": at(17, 0), "from": rider, "to": friend, "asset": "SUZU", "amount": 200}),
        serde_json::json!({"id": "walk-send-points", "type": "send", "at": at(17, 0), "from": rider, "to": friend, "asset": "muro-pt", "amount": 10}),
    ];
    let events = events
        .iter()
        .map(|value| Event::parse(&value.to_string()).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let answers = engine.submit(events)?;
    let context = engine.answer_context();
    println!("\nAn afternoon of rider {rider} at the Muroran shops:");
    for (what, answer) in [
        "SUZU top-up",
        "health points",
        "bus points (transport only)",
        "yakitori ¥1000: points first",
        "taxi holds ¥2000",
        "taxi captures ¥1600",
        "books ¥1500 in SUZU",
        "books refunds ¥500",
        "SUZU 200 to a friend",
        "points to a friend",
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
