//! A restart changes nothing: rating the commuter morning with a shutdown and restart halfway
//! gives the same answers, balances and reports as rating it in one go; a restarted engine
//! answers a repeated id with its first answer and refuses the id with another body; and the
//! same holds on PostgreSQL.

mod common;

use std::sync::Arc;

use common::{TempDir, event, grant, redeem, sqlite, start_engine, topup, town_bus_wallet_ride};
use kanjo_engine::answer::{Outcome, RejectionCode};
use kanjo_engine::machine::Prepared;
use kanjo_engine::pipeline::{
    Answer, Engine, EngineConfig, SUBMISSION_EVENTS_MAX, StartError, SubmitError,
};
use kanjo_engine::report::{self, OperatorDay, TrialBalance};
use kanjo_engine::riders::{CheckedRider, check_rider_value};
use kanjo_engine::store::StoreTarget;
use kanjo_engine::store::testdb::TestDatabase;
use kanjo_engine::workload::timetable::muroran_feed_dir;
use kanjo_engine::workload::{Commuter, CommuterConfig, Timetable};
use kanjo_rules::RiderRecord;

const SEED: u64 = 11;

/// Everything a restart could disturb, read on the machine thread. Ledger timestamps come from
/// the wall clock of each batch, so two stores are compared without them; one store before and
/// after its own replay is compared with them (the digest).
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    accounts: Vec<(u128, u32, u64, u64)>,
    transfers: Vec<(u128, u128, u128, u64, u16)>,
    trial_balance: TrialBalance,
    operator_days: Vec<OperatorDay>,
    pending_taps: usize,
    events_seen: usize,
    riders_known: usize,
}

fn snapshot(engine: &Engine) -> (Snapshot, u128) {
    engine
        .query_blocking(|machine| {
            let ledger = machine.ledger();
            let mut accounts: Vec<_> = ledger
                .accounts()
                .map(|account| {
                    (
                        account.id,
                        account.asset.0,
                        account.debits_posted,
                        account.credits_posted,
                    )
                })
                .collect();
            accounts.sort_unstable();
            let transfers = ledger
                .transfers()
                .map(|transfer| {
                    (
                        transfer.id,
                        transfer.debit_account_id,
                        transfer.credit_account_id,
                        transfer.amount,
                        transfer.code,
                    )
                })
                .collect();
            let snapshot = Snapshot {
                accounts,
                transfers,
                trial_balance: report::trial_balance(machine),
                operator_days: report::operator_days(machine),
                pending_taps: machine.pending_taps(),
                events_seen: machine.events_seen(),
                riders_known: machine.riders_known(),
            };
            (snapshot, ledger.digest())
        })
        .expect("the engine answers queries")
}

/// The stored answer of each id (taps' answers change when a later tap pairs or expires them).
fn stored_outcomes(engine: &Engine, ids: &[String]) -> Vec<Option<Outcome>> {
    let ids = ids.to_vec();
    engine
        .query_blocking(move |machine| ids.iter().map(|id| machine.outcome(id).cloned()).collect())
        .expect("the engine answers queries")
}

struct Morning {
    riders: Vec<(String, RiderRecord)>,
    submissions: Vec<Vec<kanjo_engine::event::Event>>,
    ids: Vec<String>,
}

fn commuter_morning() -> Morning {
    let timetable = Arc::new(
        Timetable::load(&muroran_feed_dir(), "weekday").expect("the Muroran timetable loads"),
    );
    let commuter = Commuter::new(CommuterConfig::new(SEED, 1), timetable);
    let riders = commuter
        .riders()
        .map(|record| {
            let value = serde_json::to_value(record).expect("a generated rider serialises");
            check_rider_value(&value)
                .map(CheckedRider::into_entry)
                .unwrap_or_else(|error| panic!("a generated rider is valid: {error:?}"))
        })
        .collect();
    let events: Vec<_> = commuter.events().collect();
    let ids = events.iter().map(|event| event.id.clone()).collect();
    // Several submissions, so "halfway" falls between two of them.
    let submissions = events
        .chunks(SUBMISSION_EVENTS_MAX / 4)
        .map(<[_]>::to_vec)
        .collect();
    Morning {
        riders,
        submissions,
        ids,
    }
}

fn submit_riders(engine: &Engine, riders: &[(String, RiderRecord)]) {
    for chunk in riders.chunks(SUBMISSION_EVENTS_MAX) {
        let results = engine
            .submit_riders(chunk.to_vec())
            .expect("riders are queued")
            .blocking_recv()
            .expect("the pipeline answers")
            .expect("riders are committed");
        assert!(
            results.iter().all(Result::is_ok),
            "every generated rider is accepted"
        );
    }
}

fn restart(engine: Engine, store: &StoreTarget) -> Engine {
    let (before, digest_before) = snapshot(&engine);
    engine.shutdown();
    let engine = start_engine(store.clone());
    let (after, digest_after) = snapshot(&engine);
    assert_eq!(after, before, "replay rebuilds the state the engine had");
    assert_eq!(
        digest_after, digest_before,
        "replay rebuilds the ledger bit for bit, timestamps included"
    );
    engine
}

#[test]
fn the_commuter_morning_rated_with_a_restart_halfway_equals_the_uninterrupted_run() {
    let morning = commuter_morning();
    assert!(
        morning.submissions.len() >= 4,
        "the morning spans several submissions"
    );
    let dir = TempDir::new("restart");
    let store_a = sqlite(&dir.join("uninterrupted"));
    let store_b = sqlite(&dir.join("restarted"));

    let engine_a = start_engine(store_a.clone());
    submit_riders(&engine_a, &morning.riders);
    let mut answers_a: Vec<Answer> = Vec::new();
    for submission in &morning.submissions {
        answers_a.extend(
            engine_a
                .submit(submission.clone())
                .expect("the morning is accepted into the log"),
        );
    }

    let mut engine_b = start_engine(store_b.clone());
    submit_riders(&engine_b, &morning.riders);
    let mut answers_b: Vec<Answer> = Vec::new();
    let halfway = morning.submissions.len() / 2;
    for (number, submission) in morning.submissions.iter().enumerate() {
        if number == halfway {
            engine_b = restart(engine_b, &store_b);
        }
        answers_b.extend(
            engine_b
                .submit(submission.clone())
                .expect("the morning is accepted into the log"),
        );
    }

    assert_eq!(answers_a.len(), morning.ids.len());
    for (a, b) in answers_a.iter().zip(&answers_b) {
        assert_eq!(
            a, b,
            "event {} is answered the same with and without the restart",
            a.id
        );
    }
    let accepted = answers_a
        .iter()
        .filter(|answer| answer.outcome.is_accepted())
        .count();
    assert!(
        accepted * 10 > answers_a.len() * 9,
        "the morning is mostly accepted ({accepted})"
    );
    assert_eq!(
        stored_outcomes(&engine_a, &morning.ids),
        stored_outcomes(&engine_b, &morning.ids)
    );
    let (state_a, _) = snapshot(&engine_a);
    let (state_b, _) = snapshot(&engine_b);
    assert!(
        state_a.trial_balance.balanced,
        "{:?}",
        state_a.trial_balance
    );
    assert!(!state_a.operator_days.is_empty());
    assert_eq!(
        state_a, state_b,
        "balances, transfers, trial balance and operator report agree"
    );

    // Both stores replay to themselves, digest included.
    engine_b.shutdown();
    let engine_a = restart(engine_a, &store_a);
    engine_a.shutdown();
}

/// The idempotency rule across a restart, on any store.
fn a_repeated_id_after_restart(store: StoreTarget) {
    let first: Vec<serde_json::Value> = vec![
        topup("w-1", "r-1", "JPY", 1_000, "2026-11-26T07:00:00+09:00"),
        town_bus_wallet_ride("ride-1", "r-1", "2026-11-26T07:10:00+09:00"),
        grant(
            "ballot-r-1",
            "r-1",
            "ballot-2026",
            1,
            "2026-12-01T09:00:00+09:00",
        ),
    ];
    let second = vec![redeem(
        "vote-r-1",
        "r-1",
        "ballot-2026",
        "station-01",
        "2026-12-13T08:00:00+09:00",
    )];
    let engine = start_engine(store.clone());
    let mut answers = engine
        .submit(first.iter().map(event).collect())
        .expect("first record");
    answers.extend(
        engine
            .submit(second.iter().map(event).collect())
            .expect("second record"),
    );
    assert!(
        answers.iter().all(|answer| answer.outcome.is_accepted()),
        "{answers:?}"
    );
    let (before, digest_before) = snapshot(&engine);
    engine.shutdown();

    let engine = start_engine(store);
    let (after, digest_after) = snapshot(&engine);
    assert_eq!(after, before, "replay rebuilds the state");
    assert_eq!(digest_after, digest_before);
    let everything: Vec<_> = first.iter().chain(&second).map(event).collect();
    let again = engine.submit(everything).expect("the same events again");
    assert_eq!(
        again, answers,
        "the same id and body after a restart returns the first answer"
    );
    assert_eq!(snapshot(&engine).1, digest_before, "and changes nothing");

    // The same id with another body: 2 000 yen instead of 1 000.
    let changed = event(&topup(
        "w-1",
        "r-1",
        "JPY",
        2_000,
        "2026-11-26T07:00:00+09:00",
    ));
    let conflict = engine
        .submit(vec![changed])
        .expect("a conflicting event is answered");
    let Outcome::Rejected(rejection) = &conflict[0].outcome else {
        panic!("the same id with another body is refused: {conflict:?}")
    };
    assert_eq!(rejection.code, RejectionCode::IdConflict, "{rejection:?}");
    assert!(rejection.message.contains("w-1"), "{rejection:?}");
    assert_eq!(
        snapshot(&engine).1,
        digest_before,
        "a refused conflict changes nothing"
    );
    let stored = stored_outcomes(&engine, &["w-1".to_owned()]);
    assert_eq!(
        stored[0].as_ref(),
        Some(&answers[0].outcome),
        "the first answer is kept"
    );
    engine.shutdown();
}

#[test]
fn after_a_restart_the_same_id_returns_the_first_answer_and_another_body_is_an_id_conflict() {
    let dir = TempDir::new("restart-idempotent");
    a_repeated_id_after_restart(sqlite(&dir.join("store")));
}

#[test]
fn postgres_replays_two_records_to_the_same_state_and_keeps_idempotency() {
    let db = TestDatabase::create()
        .expect("the PostgreSQL test server is reachable (ops/scripts/test starts it)");
    a_repeated_id_after_restart(StoreTarget::Postgres {
        url: db.url().to_owned(),
    });
}

/// `shutdown` promises to let queued work finish and commit; a submission queued just before it
/// must be answered, not refused.
#[test]
fn shutdown_commits_what_was_queued_before_it() {
    let dir = TempDir::new("restart-shutdown");
    let store = sqlite(&dir.join("store"));
    let engine = start_engine(store.clone());
    let mut refused = 0;
    const ROUNDS: usize = 20;
    let mut engine = engine;
    for round in 0..ROUNDS {
        let id = format!("queued-{round}");
        let queued = engine
            .submit_prepared(vec![Prepared::new(event(&topup(
                &id,
                "r-q",
                "JPY",
                100,
                "2026-11-26T07:00:00+09:00",
            )))])
            .expect("queued");
        engine.shutdown();
        match queued.blocking_recv() {
            Ok(Ok(answers)) => assert!(answers[0].outcome.is_accepted()),
            Ok(Err(SubmitError::Stopped(_))) | Err(_) => refused += 1,
            Ok(Err(other)) => panic!("{other}"),
        }
        engine = start_engine(store.clone());
    }
    let known = stored_outcomes(
        &engine,
        &(0..ROUNDS)
            .map(|round| format!("queued-{round}"))
            .collect::<Vec<_>>(),
    );
    engine.shutdown();
    assert_eq!(
        refused, 0,
        "{refused} of {ROUNDS} submissions queued before shutdown were refused; stored: {known:?}"
    );
}

/// The demo programme with its fare feed path made absolute and `edit` applied, written to `dir`.
fn programme_variant(
    dir: &TempDir,
    name: &str,
    edit: impl FnOnce(String) -> String,
) -> std::path::PathBuf {
    let original = std::fs::read_to_string(common::programme_path()).expect("the demo programme");
    let feed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/gtfs-jp/donan-bus-muroran");
    let text = original.replace(
        "\"../../data/gtfs-jp/donan-bus-muroran\"",
        &format!("{:?}", feed.display().to_string()),
    );
    assert_ne!(text, original, "the feed path was rewritten");
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).expect("write a programme variant");
    path
}

fn wallet_rides(range: std::ops::Range<u32>) -> Vec<kanjo_engine::event::Event> {
    range
        .map(|ride| {
            event(&town_bus_wallet_ride(
                &format!("budget-ride-{ride}"),
                "r-b",
                &format!("2026-11-26T08:{ride:02}:00+09:00"),
            ))
        })
        .collect()
}

fn discounts(answers: &[Answer]) -> Vec<u64> {
    answers
        .iter()
        .map(|answer| match &answer.outcome {
            Outcome::Ride(ride) => ride.discount,
            other => panic!("{}: a ride is rated: {other:?}", answer.id),
        })
        .collect()
}

#[test]
fn a_budget_used_up_before_a_restart_stays_used_up_after_it() {
    let dir = TempDir::new("restart-budget");
    // 120 yen of transit subsidy: two half-fare rides (50 + 50), then 20, then none.
    let programme = programme_variant(&dir, "small-budget.toml", |text| {
        text.replace("limit = 50000000", "limit = 120")
    });
    let store = sqlite(&dir.join("store"));
    let start =
        || Engine::start(EngineConfig::new(store.clone(), &programme)).expect("the engine starts");
    let engine = start();
    let (canonical, record) = check_rider_value(&common::licence_returned_rider("r-b"))
        .expect("a valid rider")
        .into_entry();
    submit_riders(&engine, &[(canonical, record)]);
    engine
        .submit(vec![event(&topup(
            "budget-topup",
            "r-b",
            "JPY",
            10_000,
            "2026-11-26T07:00:00+09:00",
        ))])
        .expect("a top-up");
    let before = engine
        .submit(wallet_rides(0..2))
        .expect("rides before the restart");
    assert_eq!(discounts(&before), [50, 50]);
    engine.shutdown();

    let engine = start();
    let after = engine
        .submit(wallet_rides(2..5))
        .expect("rides after the restart");
    assert_eq!(
        discounts(&after),
        [20, 0, 0],
        "the replayed budget use carries over"
    );
    let budget = engine
        .query_blocking(|machine| {
            let id = kanjo_engine::chart::AccountName::Budget {
                budget: "transit-subsidy",
                fiscal_year: 2026,
            }
            .id();
            let account = machine.ledger().account(id).expect("the budget account");
            account.credits_posted - account.debits_posted
        })
        .expect("a query");
    assert_eq!(
        budget, 0,
        "the ledger agrees: the budget is spent to the yen"
    );
    engine.shutdown();
}

#[test]
fn a_store_refuses_a_programme_other_than_the_one_it_was_written_with() {
    let dir = TempDir::new("restart-programme");
    let written_with = programme_variant(&dir, "a.toml", |text| text);
    let changed = programme_variant(&dir, "b.toml", |text| {
        text.replace("limit = 50000000", "limit = 40000000")
    });
    let store = sqlite(&dir.join("store"));
    let engine = Engine::start(EngineConfig::new(store.clone(), &written_with))
        .expect("a new store takes any programme");
    engine
        .submit(vec![event(&topup(
            "p-1",
            "r-p",
            "JPY",
            100,
            "2026-11-26T07:00:00+09:00",
        ))])
        .expect("a top-up");
    engine.shutdown();
    match Engine::start(EngineConfig::new(store.clone(), &changed)) {
        Err(StartError::ProgrammeChanged { .. }) => {}
        Err(other) => panic!("expected ProgrammeChanged, got {other}"),
        Ok(engine) => {
            engine.shutdown();
            panic!("a changed programme would re-rate the log differently, yet the store opened");
        }
    }
    let engine = Engine::start(EngineConfig::new(store, &written_with))
        .expect("the original programme still opens it");
    let kept = stored_outcomes(&engine, &["p-1".to_owned()]);
    assert!(kept[0].as_ref().is_some_and(Outcome::is_accepted));
    engine.shutdown();
}

/// Fail-stop: a commit the store refuses is never acknowledged, the engine takes no more work,
/// and a restart recovers exactly the committed records.
#[test]
fn a_refused_commit_stops_the_engine_unacknowledged_and_a_restart_recovers_the_committed_log() {
    let db = TestDatabase::create()
        .expect("the PostgreSQL test server is reachable (ops/scripts/test starts it)");
    let store = StoreTarget::Postgres {
        url: db.url().to_owned(),
    };
    let engine = start_engine(store.clone());
    let first = vec![event(&topup(
        "fs-1",
        "r-f",
        "JPY",
        1_000,
        "2026-11-26T07:00:00+09:00",
    ))];
    let first_answers = engine
        .submit(first.clone())
        .expect("the first record commits");
    db.execute(
        "CREATE FUNCTION kanjo_test_refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'disk full (test)'; END $$; \
         CREATE TRIGGER kanjo_test_refuse BEFORE INSERT ON kanjo_log_record \
         FOR EACH ROW EXECUTE FUNCTION kanjo_test_refuse();",
    )
    .expect("install a failing trigger");
    let second = vec![event(&topup(
        "fs-2",
        "r-f",
        "JPY",
        500,
        "2026-11-26T07:05:00+09:00",
    ))];
    match engine.submit(second.clone()) {
        Err(SubmitError::Stopped(reason)) => assert!(reason.contains("record 2"), "{reason}"),
        other => panic!("a refused commit is never acknowledged: {other:?}"),
    }
    assert!(
        matches!(engine.submit(first.clone()), Err(SubmitError::Stopped(_))),
        "a stopped engine takes no work"
    );
    assert!(
        matches!(engine.query_blocking(|_| ()), Err(SubmitError::Stopped(_))),
        "nor answers reads ahead of the log"
    );
    engine.shutdown();

    db.execute("DROP TRIGGER kanjo_test_refuse ON kanjo_log_record;")
        .expect("remove the trigger");
    let engine = start_engine(store);
    let known = stored_outcomes(&engine, &["fs-1".to_owned(), "fs-2".to_owned()]);
    assert_eq!(
        known,
        [Some(first_answers[0].outcome.clone()), None],
        "only the committed record is replayed"
    );
    let retried = engine.submit(second).expect("the retry commits");
    assert!(retried[0].outcome.is_accepted(), "{retried:?}");
    let wallet = engine
        .query_blocking(|machine| {
            let id = kanjo_engine::chart::AccountName::Rider {
                rider: "r-f",
                asset: "JPY",
            }
            .id();
            machine
                .ledger()
                .account(id)
                .map(|account| account.credits_posted - account.debits_posted)
        })
        .expect("a query");
    assert_eq!(wallet, Some(1_500));
    engine.shutdown();
}
