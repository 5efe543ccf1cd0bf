//! Programme versions (issue 12) through the engine: `programme apply` logs a version, rides are
//! rated by the version in effect at their own time (a late upload across the change too), and a
//! restart replays both versions to the same answers and state, from the stored source even when
//! the new programme's file is gone; on SQLite and on PostgreSQL.

mod common;

use std::path::{Path, PathBuf};

use common::{TempDir, event, programme_path, sqlite};
use kanjo_engine::answer::Outcome;
use kanjo_engine::machine::Prepared;
use kanjo_engine::pipeline::{Engine, EngineConfig};
use kanjo_engine::programme_cli::{self, ApplyError};
use kanjo_engine::store::testdb::TestDatabase;
use kanjo_engine::store::{EntryKind, StoreTarget};
use serde_json::json;

const MIDNIGHT: &str = "2026-11-27T00:00:00+09:00";

/// The demo programme with the town bus at 150 yen instead of 100, a FY2027 budget added and a
/// rule funded by it; its GTFS folder named by absolute path, so the file can live anywhere.
fn next_version(dir: &Path) -> PathBuf {
    let first = common::portable_programme_text();
    let text = first.replace("flat_fare = 100", "flat_fare = 150")
        + r#"
[[budgets]]
id = "transit-subsidy"
fiscal_year = 2027
limit = 1000000

[[rules]]
id = "disability-free-2027"
kind = "fare_discount"
eligible = { disability = true }
discount = { type = "free" }
funded_by = "transit-subsidy"
"#;
    assert_ne!(text, first);
    let path = dir.join("programme-v2.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn cash_ride(id: &str, at: &str) -> Prepared {
    Prepared::new(event(
        &json!({"id": id, "type": "ride", "at": at, "operator": "town-bus", "media": "cash"}),
    ))
}

fn fares(engine: &Engine, rides: Vec<Prepared>) -> Vec<u64> {
    let answers = engine
        .submit_prepared(rides)
        .unwrap()
        .blocking_recv()
        .unwrap()
        .unwrap();
    answers
        .into_iter()
        .map(|answer| match answer.outcome {
            Outcome::Ride(ride) => ride.fare,
            other => panic!("{}: not a ride: {other:?}", answer.id),
        })
        .collect()
}

/// The ledger digest and every ride's answer, read on the machine thread.
fn state(engine: &Engine, ids: &'static [&'static str]) -> (u128, Vec<String>, usize) {
    engine
        .query_blocking(move |machine| {
            let answers = ids
                .iter()
                .map(|id| format!("{:?}", machine.outcome(id)))
                .collect();
            (machine.ledger().digest(), answers, machine.versions().len())
        })
        .unwrap()
}

fn config(store: &StoreTarget) -> EngineConfig {
    EngineConfig::new(store.clone(), programme_path())
}

fn two_versions_replay_to_the_same_answers(store: StoreTarget) {
    let dir = TempDir::new("programme-versions");
    let v2 = next_version(dir.path());
    let engine = Engine::start(config(&store)).unwrap();
    assert_eq!(
        fares(
            &engine,
            vec![cash_ride("before", "2026-11-26T23:59:59+09:00")]
        ),
        [100]
    );
    engine.shutdown();

    let effective = MIDNIGHT.parse().unwrap();
    assert_eq!(
        programme_cli::apply(config(&store), &v2, effective).unwrap(),
        2
    );
    // The same file at the same instant is the same version, logged once.
    assert_eq!(
        programme_cli::apply(config(&store), &v2, effective).unwrap(),
        2
    );

    let engine = Engine::start(config(&store)).unwrap();
    let rides = vec![
        cash_ride("at-midnight", MIDNIGHT),
        // A validator uploads yesterday's last ride after the change: yesterday's fare.
        cash_ride("late-upload", "2026-11-26T23:59:58+09:00"),
    ];
    assert_eq!(fares(&engine, rides), [150, 100]);
    const IDS: &[&str] = &["before", "at-midnight", "late-upload"];
    let before = state(&engine, IDS);
    assert_eq!(before.2, 2);
    engine.shutdown();

    // The new file is gone: the store replays the version from its own copy of the source.
    std::fs::remove_file(&v2).unwrap();
    let engine = Engine::start(config(&store)).unwrap();
    assert_eq!(state(&engine, IDS), before);
    engine.shutdown();
    let mut opened = kanjo_engine::store::open(&store).unwrap();
    assert_eq!(opened.count_entries(EntryKind::Programme).unwrap(), 1);
}

#[test]
fn a_restart_replays_two_programme_versions_to_the_same_answers_on_sqlite() {
    let dir = TempDir::new("programme-versions-sqlite");
    two_versions_replay_to_the_same_answers(sqlite(&dir.join("store")));
}

#[test]
fn a_restart_replays_two_programme_versions_to_the_same_answers_on_postgres() {
    let db = TestDatabase::create()
        .expect("the PostgreSQL test server is reachable (ops/scripts/test starts it)");
    two_versions_replay_to_the_same_answers(StoreTarget::Postgres {
        url: db.url().to_owned(),
    });
}

#[test]
fn a_version_that_changes_the_shops_is_refused_before_anything_is_logged() {
    let dir = TempDir::new("programme-versions-shops");
    let store = sqlite(&dir.join("store"));
    let v2 = next_version(dir.path());
    let text = std::fs::read_to_string(&v2).unwrap() + "\n[[shops]]\nid = \"extra\"\n";
    std::fs::write(&v2, text).unwrap();
    let error = programme_cli::apply(config(&store), &v2, MIDNIGHT.parse().unwrap()).unwrap_err();
    assert!(matches!(error, ApplyError::Refused(_)), "{error}");
    assert!(error.to_string().contains("shops"), "{error}");
    let mut opened = kanjo_engine::store::open(&store).unwrap();
    assert_eq!(opened.count_entries(EntryKind::Programme).unwrap(), 0);
}

#[test]
fn a_version_taking_effect_before_a_rated_ride_is_refused() {
    let dir = TempDir::new("programme-versions-past");
    let store = sqlite(&dir.join("store"));
    let v2 = next_version(dir.path());
    let engine = Engine::start(config(&store)).unwrap();
    fares(
        &engine,
        vec![cash_ride("after", "2026-11-27T08:00:00+09:00")],
    );
    engine.shutdown();
    let error = programme_cli::apply(config(&store), &v2, MIDNIGHT.parse().unwrap()).unwrap_err();
    assert!(error.to_string().contains("effective"), "{error}");
    assert!(error.to_string().contains("already rated"), "{error}");
}
