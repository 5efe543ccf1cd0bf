//! The month-end reconciliation scenario (issue 10): a month of Muroran runs through the
//! pipeline; an independent generator here writes the bank's, the IC clearing house's and the
//! operator's files from its own model of the month (what happened, from the workload's plan:
//! never from kanjo's ledger or reports), with seeded discrepancies. Every seeded discrepancy is
//! found, and nothing else.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::{TempDir, kanjo, programme_path, sqlite};
use kanjo_core::reconcile::{ExceptionKind, Period, ReconRefusalCode, Resolution, Source};
use kanjo_engine::event::{EventKind, Media};
use kanjo_engine::month_demo::submit_month;
use kanjo_engine::pipeline::{Engine, EngineConfig, ReconRecord};
use kanjo_engine::reconcile_cli::reconcile_file;
use kanjo_workload::rng::SplitMix64;
use kanjo_workload::{Month, MonthConfig};

/// The town bus's flat fare, as the programme publishes it (`flat_fare = 100`).
const TOWN_BUS_FARE_YEN: u64 = 100;
const OPERATOR: &str = "town-bus";

/// What the outside world saw, per the test's own model of the month.
#[derive(Default)]
struct World {
    /// (booking day, event id, amount) of every top-up, in the order they happened.
    deposits: Vec<(String, String, u64)>,
    /// Per ride day: (rides, IC rides).
    rides: BTreeMap<String, (u64, u64)>,
}

impl World {
    fn of(month: &Month) -> World {
        let mut world = World::default();
        for planned in month.plan() {
            let day = planned.day.to_string();
            match &planned.event.kind {
                EventKind::Topup(topup) => {
                    world
                        .deposits
                        .push((day, planned.event.id.clone(), topup.amount_minor));
                }
                EventKind::Ride(ride) => {
                    let counts = world.rides.entry(day).or_default();
                    counts.0 += 1;
                    counts.1 += u64::from(ride.media == Media::Ic);
                }
                _ => {}
            }
        }
        world
    }
}

/// Which lines the generator spoils, drawn by seed.
struct Seeded {
    missing_topup: usize,
    topup_off_by_10: usize,
    duplicated_ic_day: usize,
    short_operator_day: usize,
}

impl Seeded {
    fn draw(seed: u64, world: &World) -> Seeded {
        let mut rng = SplitMix64::new(seed);
        let deposits = world.deposits.len() as u64;
        let missing_topup = rng.below(deposits) as usize;
        let mut topup_off_by_10 = rng.below(deposits) as usize;
        if topup_off_by_10 == missing_topup {
            topup_off_by_10 = (topup_off_by_10 + 1) % deposits as usize;
        }
        Seeded {
            missing_topup,
            topup_off_by_10,
            duplicated_ic_day: rng.below(world.rides.len() as u64) as usize,
            short_operator_day: rng.below(world.rides.len() as u64) as usize,
        }
    }
}

struct Files {
    bank: String,
    ic: String,
    operator: String,
}

fn write_files(world: &World, seeded: Option<&Seeded>) -> Files {
    let mut bank = String::from("date,reference,type,amount\r\n");
    for (i, (day, id, amount)) in world.deposits.iter().enumerate() {
        if seeded.is_some_and(|s| s.missing_topup == i) {
            continue;
        }
        let amount = if seeded.is_some_and(|s| s.topup_off_by_10 == i) {
            amount + 10
        } else {
            *amount
        };
        // The bank's own statement quotes its references.
        let _ = write!(bank, "{day},\"{id}\",deposit,{amount}\r\n");
    }
    let mut ic = String::from("\u{feff}date,operator,amount_yen\n");
    let mut operator = String::from("date,operator,rides,revenue_yen\n");
    for (i, (day, (rides, ic_rides))) in world.rides.iter().enumerate() {
        if *ic_rides > 0 {
            let line = format!("{day},{OPERATOR},{}\n", ic_rides * TOWN_BUS_FARE_YEN);
            ic.push_str(&line);
            if seeded.is_some_and(|s| s.duplicated_ic_day == i) {
                ic.push_str(&line);
            }
        }
        let rides = if seeded.is_some_and(|s| s.short_operator_day == i) {
            rides - 1
        } else {
            *rides
        };
        let _ = writeln!(
            operator,
            "{day},{OPERATOR},{rides},{}",
            rides * TOWN_BUS_FARE_YEN
        );
    }
    Files { bank, ic, operator }
}

fn november() -> Period {
    Period::parse("2026-11-01..2026-11-30").unwrap()
}

fn start(dir: &TempDir) -> Engine {
    Engine::start(EngineConfig::new(sqlite(dir.path()), programme_path())).unwrap()
}

/// A month through the pipeline; the engine is left running.
fn month_in(dir: &TempDir) -> (Engine, Month) {
    let engine = start(dir);
    let month = Month::new(MonthConfig::november(11));
    let tally = submit_month(&engine, &month).unwrap();
    assert!(tally.rejected.is_empty(), "refused: {:?}", tally.rejected);
    (engine, month)
}

/// (source, kind, reference, kanjo amount, file amount, kanjo count, file count) of a run.
type Found = (
    Source,
    ExceptionKind,
    String,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
);

#[test]
fn every_seeded_discrepancy_is_found_across_the_late_uploads_and_nothing_else() {
    let dir = TempDir::new("reconcile-month");
    let (engine, month) = month_in(&dir);
    let world = World::of(&month);
    let seeded = Seeded::draw(2026, &world);
    let files = write_files(&world, Some(&seeded));
    let mut found: Vec<Found> = Vec::new();
    let at = jiff::Timestamp::now();
    for (source, name, text, period) in [
        (Source::Bank, "bank.csv", &files.bank, None),
        (Source::Ic, "ic.csv", &files.ic, Some(november())),
        (
            Source::Operator,
            "operator.csv",
            &files.operator,
            Some(november()),
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let id = format!("t-{}", source.code());
        let done = reconcile_file(&engine, source, &path, period, Some(id), at).unwrap();
        assert_eq!(
            done.run.exceptions_total,
            done.comparison.exceptions.len() as u64
        );
        found.extend(done.comparison.exceptions.iter().map(|e| {
            (
                source,
                e.kind,
                e.reference.clone(),
                e.kanjo_amount_yen,
                e.file_amount_yen,
                e.kanjo_count,
                e.file_count,
            )
        }));
    }
    engine.shutdown();

    let deposit = |i: usize| &world.deposits[i];
    let day = |i: usize| world.rides.iter().nth(i).unwrap();
    let (_, missing_id, missing_amount) = deposit(seeded.missing_topup);
    let (_, off_id, off_amount) = deposit(seeded.topup_off_by_10);
    let (dup_day, (_, dup_ic)) = day(seeded.duplicated_ic_day);
    let (short_day, (short_rides, _)) = day(seeded.short_operator_day);
    let dup_yen = dup_ic * TOWN_BUS_FARE_YEN;
    let mut expected: Vec<Found> = vec![
        (
            Source::Bank,
            ExceptionKind::MissingInFile,
            format!("deposit/{missing_id}"),
            Some(*missing_amount),
            None,
            None,
            None,
        ),
        (
            Source::Bank,
            ExceptionKind::AmountDiffers,
            format!("deposit/{off_id}"),
            Some(*off_amount),
            Some(off_amount + 10),
            None,
            None,
        ),
        (
            Source::Ic,
            ExceptionKind::Duplicate,
            format!("{OPERATOR}/{dup_day}"),
            Some(dup_yen),
            Some(dup_yen),
            None,
            None,
        ),
        (
            Source::Operator,
            ExceptionKind::CountDiffers,
            format!("{OPERATOR}/{short_day}"),
            Some(short_rides * TOWN_BUS_FARE_YEN),
            Some((short_rides - 1) * TOWN_BUS_FARE_YEN),
            Some(*short_rides),
            Some(short_rides - 1),
        ),
    ];
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
}

#[test]
fn the_command_exits_zero_on_clean_files_and_six_when_anything_is_unreconciled() {
    let dir = TempDir::new("reconcile-cli");
    let (engine, month) = month_in(&dir);
    engine.shutdown();
    let world = World::of(&month);
    let clean = write_files(&world, None);
    let spoiled = write_files(&world, Some(&Seeded::draw(5, &world)));
    let data = dir.path().to_str().unwrap().to_owned();
    for (source, clean_text, spoiled_text) in [
        ("bank", &clean.bank, &spoiled.bank),
        ("ic", &clean.ic, &spoiled.ic),
        ("operator", &clean.operator, &spoiled.operator),
    ] {
        for (label, text, status) in [("clean", clean_text, 0), ("spoiled", spoiled_text, 6)] {
            let path = dir.join(&format!("{source}-{label}.csv"));
            std::fs::write(&path, text).unwrap();
            let output = kanjo(&[
                "reconcile",
                "--data",
                &data,
                "--source",
                source,
                "--file",
                path.to_str().unwrap(),
                "--period",
                "2026-11-01..2026-12-31",
            ]);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(
                output.status.code(),
                Some(status),
                "{source} {label}: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn runs_and_their_resolutions_are_replayed_after_a_restart_and_a_resolution_is_kept_once() {
    let dir = TempDir::new("reconcile-replay");
    let (engine, month) = month_in(&dir);
    let world = World::of(&month);
    let files = write_files(&world, Some(&Seeded::draw(9, &world)));
    let path = dir.join("ic.csv");
    std::fs::write(&path, &files.ic).unwrap();
    let at = jiff::Timestamp::now();
    let done = reconcile_file(
        &engine,
        Source::Ic,
        &path,
        Some(november()),
        Some("r-ic".into()),
        at,
    )
    .unwrap();
    assert_eq!(done.run.exceptions.len(), 1);
    let resolution = Resolution {
        run: "r-ic".into(),
        n: 1,
        reason: "清算センターの二重送信 (the clearing house sent the line twice)".into(),
        clerk: "佐藤".into(),
        at: "2026-12-03T01:00:00Z".into(),
        // The key that resolved it is replayed with it.
        principal: Some("00000000000000ab".into()),
    };
    engine
        .submit_recon_blocking(ReconRecord::Resolve(resolution.clone()))
        .unwrap()
        .unwrap();
    engine.shutdown();

    let engine = start(&dir);
    let (run, resolved) = engine
        .query_blocking(|machine| {
            let stored = machine.reconciliations().get("r-ic").cloned().unwrap();
            (stored.run.clone(), stored.resolutions.get(&1).cloned())
        })
        .unwrap();
    assert_eq!(run, done.run);
    assert_eq!(resolved, Some(resolution.clone()));
    // A retry is the same resolution; another clerk's is refused and the first kept.
    engine
        .submit_recon_blocking(ReconRecord::Resolve(resolution.clone()))
        .unwrap()
        .unwrap();
    let other = Resolution {
        clerk: "鈴木".into(),
        ..resolution.clone()
    };
    let refused = engine
        .submit_recon_blocking(ReconRecord::Resolve(other))
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code, ReconRefusalCode::AlreadyResolved);
    let missing = Resolution { n: 2, ..resolution };
    let refused = engine
        .submit_recon_blocking(ReconRecord::Resolve(missing))
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code, ReconRefusalCode::UnknownException);
    engine.shutdown();
}
