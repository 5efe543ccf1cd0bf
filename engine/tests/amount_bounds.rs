//! Issue 14, item 2: no single event, whatever its amount (up to u64::MAX), may make a later
//! ordinary event fail, now or after a restart. An amount over the asset's
//! `max_amount_per_event` is refused alone (`amount_too_large`), and so is an event that would
//! overflow any account it touches, instead of jamming that account for everyone.

mod common;

use std::path::{Path, PathBuf};

use common::{TempDir, event, grant, licence_returned_rider, programme_path, sqlite, topup};
use kanjo_engine::answer::Outcome;
use kanjo_engine::chart::AMOUNT_PER_EVENT_CEILING_MINOR;
use kanjo_engine::pipeline::{Engine, EngineConfig};
use kanjo_engine::riders::check_rider_value;
use kanjo_engine::store::StoreTarget;
use serde_json::{Value, json};

const AT: &str = "2026-11-26T07:00:00+09:00";

fn start(store: &StoreTarget, programme: &Path) -> Engine {
    Engine::start(EngineConfig::new(store.clone(), programme)).expect("the engine starts")
}

/// "accepted" or the rejection code, per event.
fn submit(engine: &Engine, events: &[Value]) -> Vec<String> {
    engine
        .submit(events.iter().map(event).collect())
        .expect("the engine answers")
        .into_iter()
        .map(|answer| code(&answer.outcome))
        .collect()
}

fn code(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Rejected(rejection) => rejection.code.code().to_owned(),
        _ => "accepted".to_owned(),
    }
}

fn stored_code(engine: &Engine, id: &'static str) -> String {
    engine
        .query_blocking(move |machine| machine.outcome(id).map(code))
        .expect("the engine answers")
        .unwrap_or_else(|| panic!("event {id} is remembered"))
}

/// A resident who returned their licence: a town-bus ride earns 10 muro-pt (a ride grant).
fn add_resident(engine: &Engine, rider: &str) {
    let checked = check_rider_value(&licence_returned_rider(rider)).expect("a valid rider");
    let results = engine
        .submit_riders(vec![checked.into_entry()])
        .expect("the engine takes riders")
        .blocking_recv()
        .expect("the pipeline answers")
        .expect("the riders are durable");
    assert_eq!(results, [Ok(())]);
}

fn cash_ride(id: &str, rider: &str, at: &str) -> Value {
    json!({"id": id, "type": "ride", "at": at, "operator": "town-bus", "rider": rider, "media": "cash"})
}

/// The ordinary events that must keep working: ¥100 to a fresh rider, a resident's ride with a
/// grant, a cash ride with no rider. `tag` keeps ids and riders fresh on every call.
fn ordinary_events_succeed(engine: &Engine, tag: &str) {
    let resident = format!("r-res-{tag}");
    add_resident(engine, &resident);
    let answers = submit(
        engine,
        &[
            topup(
                &format!("ok-topup-{tag}"),
                &format!("r-fresh-{tag}"),
                "JPY",
                100,
                AT,
            ),
            cash_ride(
                &format!("ok-ride-{tag}"),
                &resident,
                "2026-11-26T08:00:00+09:00",
            ),
            grant(
                &format!("ok-grant-{tag}"),
                &format!("r-fresh-{tag}"),
                "muro-pt",
                10,
                AT,
            ),
        ],
    );
    assert_eq!(answers, ["accepted", "accepted", "accepted"], "{tag}");
    let balanced = engine
        .query_blocking(kanjo_engine::report::trial_balance)
        .expect("the trial balance is answered")
        .balanced;
    assert!(balanced, "{tag}");
}

#[test]
fn topups_of_u64_max_are_refused_alone_and_jam_nothing_across_a_restart() {
    let dir = TempDir::new("bounds-topup");
    let store = sqlite(&dir.join("store"));
    let programme = programme_path();
    let engine = start(&store, &programme);
    let answers = submit(
        &engine,
        &[
            topup("max-1", "r-wallet", "JPY", u64::MAX, AT),
            topup("max-2", "r-wallet", "JPY", u64::MAX, AT),
            topup("max-coin", "r-wallet", "SUZU", u64::MAX, AT),
            topup("bound", "r-wallet", "JPY", 1_000_000, AT),
            topup("bound+1", "r-wallet", "JPY", 1_000_001, AT),
        ],
    );
    assert_eq!(
        answers,
        [
            "amount_too_large",
            "amount_too_large",
            "amount_too_large",
            "accepted",
            "amount_too_large"
        ]
    );
    ordinary_events_succeed(&engine, "before");
    engine.shutdown();

    let engine = start(&store, &programme);
    assert_eq!(stored_code(&engine, "max-1"), "amount_too_large");
    assert_eq!(stored_code(&engine, "bound"), "accepted");
    ordinary_events_succeed(&engine, "after");
    engine.shutdown();
}

#[test]
fn a_grant_near_u64_max_is_refused_and_resident_rides_keep_their_grants_across_a_restart() {
    let dir = TempDir::new("bounds-grant");
    let store = sqlite(&dir.join("store"));
    let programme = programme_path();
    let engine = start(&store, &programme);
    let answers = submit(
        &engine,
        &[
            grant("huge-pt", "r-hoard", "muro-pt", u64::MAX - 5, AT),
            grant("huge-ticket", "r-hoard", "drone-delivery", u64::MAX, AT),
            grant("many-pt", "r-hoard", "muro-pt", 1_000_001, AT),
        ],
    );
    assert_eq!(
        answers,
        ["amount_too_large", "amount_too_large", "amount_too_large"]
    );
    ordinary_events_succeed(&engine, "before");
    engine.shutdown();

    let engine = start(&store, &programme);
    assert_eq!(stored_code(&engine, "huge-pt"), "amount_too_large");
    ordinary_events_succeed(&engine, "after");
    engine.shutdown();
}

/// The demo programme with JPY and muro-pt allowing the largest amount an asset may declare.
fn programme_at_the_ceiling(dir: &TempDir) -> PathBuf {
    let bound = format!("max_amount_per_event = {AMOUNT_PER_EVENT_CEILING_MINOR}");
    let text = common::portable_programme_text()
        .replace(
            "code = \"JPY\"\nkind = \"yen\"\n",
            &format!("code = \"JPY\"\nkind = \"yen\"\n{bound}\n"),
        )
        .replace(
            "code = \"muro-pt\"\nkind = \"points\"\n",
            &format!("code = \"muro-pt\"\nkind = \"points\"\n{bound}\n"),
        );
    assert_eq!(
        text.matches(&bound).count(),
        2,
        "the demo programme changed"
    );
    let path = dir.join("programme.toml");
    std::fs::write(&path, text).expect("write the programme");
    path
}

/// Even at the largest declarable amount, filling the bank and the issuer takes thousands of
/// events; the one that would overflow is refused alone with `amount_too_large` (not a ledger
/// error), and ordinary events still fit in the room left.
#[test]
fn an_event_that_would_overflow_an_account_is_refused_alone() {
    let dir = TempDir::new("bounds-headroom");
    let store = sqlite(&dir.join("store"));
    let programme = programme_at_the_ceiling(&dir);
    let engine = start(&store, &programme);
    let fills = (u64::MAX / AMOUNT_PER_EVENT_CEILING_MINOR) as usize;
    let mut events: Vec<Value> = (0..=fills)
        .map(|n| {
            topup(
                &format!("fill-{n}"),
                "r-rich",
                "JPY",
                AMOUNT_PER_EVENT_CEILING_MINOR,
                AT,
            )
        })
        .collect();
    events.extend((0..=fills).map(|n| {
        grant(
            &format!("pts-{n}"),
            "r-hoard",
            "muro-pt",
            AMOUNT_PER_EVENT_CEILING_MINOR,
            AT,
        )
    }));
    let answers = submit(&engine, &events);
    let (topups, grants) = answers.split_at(fills + 1);
    for answers in [topups, grants] {
        assert!(answers[..fills].iter().all(|answer| answer == "accepted"));
        assert_eq!(answers[fills], "amount_too_large");
    }
    ordinary_events_succeed(&engine, "before");
    engine.shutdown();

    let engine = start(&store, &programme);
    ordinary_events_succeed(&engine, "after");
    engine.shutdown();
}
