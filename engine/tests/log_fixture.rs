//! A command log written before the crate split (issue 8) replays to the same state: the same
//! ledger digest, the same answer for every event id, the same reports.
//!
//! The log is `tests/fixtures/log-v1/kanjo.sqlite`, written by `kanjo import` of the NDJSON files
//! beside it (see the README there). The constants below were recorded from the code that wrote
//! it; if one changes, replay no longer reproduces what was acknowledged.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use kanjo_engine::pipeline::{Engine, EngineConfig};
use kanjo_engine::report;
use kanjo_engine::store::StoreTarget;
use serde_json::Value;

/// `Ledger::digest()` after replaying the fixture (the ledger's timestamps come from the log).
const LEDGER_DIGEST: &str = "5dbc13931b50172fe07afdfd9769e395";
/// Logged event ids: the import's 51 lines less 2 malformed, an id sent twice and an id_conflict.
const EVENTS_SEEN: usize = 47;
/// spec/example's nine riders and one newcomer (a record carrying a My Number was refused).
const RIDERS_KNOWN: usize = 10;
/// `fx-late-1`, a tap-on nobody tapped off for yet.
const PENDING_TAPS: usize = 1;
const TRIAL_BALANCE: &str = "\
asset               debits posted   credits posted   debits pend.  credits pend.  accounts
JPY                      70008010         70008010              0              0        14
SUZU                         1500             1500              0              0         2
muro-pt                       240              240              0              0         8
drone-delivery                  2                2              0              0         3
ballot-2026                     3                3              0              0         4
balanced: every asset's debits equal its credits
";
const OPERATOR_REPORT: &str = "\
operator       date         rides      fares       paid     wallet       cash         ic    subsidy       cap  subsidy due by budget
donan-bus      2026-11-26      16       4690       2430        280       1360        790       2180        80  transit-subsidy=1770 welfare=410
town-bus       2026-11-26       9        900        500        200        300          0        400         0  transit-subsidy=400
";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log-v1")
}

/// A copy of the fixture store: opening SQLite in WAL mode creates files beside it, and the
/// fixture in the source tree must stay as it was written.
fn copy_of_fixture_store() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kanjo-log-fixture-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove a stale copy");
    }
    std::fs::create_dir_all(&dir).expect("create the copy's directory");
    std::fs::copy(fixture_dir().join("kanjo.sqlite"), dir.join("kanjo.sqlite"))
        .expect("copy the fixture log");
    dir
}

/// The first answer `kanjo import --answers` printed for each logged event id, in order.
/// Malformed events (`bad_event`) are never logged, and a repeated id keeps its first answer.
fn recorded_answers() -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(fixture_dir().join("answers.ndjson"))
        .expect("read the recorded answers");
    let mut seen = HashSet::new();
    let mut answers = Vec::new();
    for line in text.lines() {
        let answer: Value = serde_json::from_str(line).expect("an answer is JSON");
        if answer["error"]["code"] == "bad_event" {
            continue;
        }
        let id = answer["id"]
            .as_str()
            .expect("an answer names its id")
            .to_owned();
        if seen.insert(id.clone()) {
            answers.push((id, answer));
        }
    }
    answers
}

#[test]
fn the_log_written_before_the_split_replays_to_the_same_state() {
    let data_dir = copy_of_fixture_store();
    let mut config = EngineConfig::new(
        StoreTarget::Sqlite {
            data_dir: data_dir.clone(),
        },
        fixture_dir().join("programme.toml"),
    );
    config.read_only = true;
    let engine = Engine::start(config).expect("the fixture log replays");
    let recorded = recorded_answers();
    let ids: Vec<String> = recorded.iter().map(|(id, _)| id.clone()).collect();
    let (digest, events_seen, riders_known, pending_taps, trial_balance, operators, outcomes) =
        engine
            .query_blocking(move |machine| {
                let outcomes: Vec<_> = ids.iter().map(|id| machine.outcome(id).cloned()).collect();
                (
                    format!("{:032x}", machine.ledger().digest()),
                    machine.events_seen(),
                    machine.riders_known(),
                    machine.pending_taps(),
                    report::trial_balance(machine).to_text(),
                    report::operators_to_text(&report::operator_days(machine)),
                    outcomes,
                )
            })
            .expect("the engine answers queries");
    let context = engine.answer_context();
    let mut replayed = String::new();
    for ((id, acknowledged), outcome) in recorded.iter().zip(&outcomes) {
        let outcome = outcome
            .as_ref()
            .unwrap_or_else(|| panic!("{id} is not in the replayed log"));
        let answer = context.to_json(id, outcome);
        // A tap's answer moves on when its other half arrives or it expires; every other
        // answer is the one that was acknowledged.
        if acknowledged["type"] != "tap" {
            assert_eq!(&answer, acknowledged, "answer to {id}");
        }
        replayed.push_str(&answer.to_string());
        replayed.push('\n');
    }
    engine.shutdown();
    std::fs::remove_dir_all(&data_dir).expect("remove the copy");

    let expected = std::fs::read_to_string(fixture_dir().join("replayed-answers.ndjson"))
        .expect("read the replayed answers");
    if replayed != expected {
        let actual = Path::new(env!("CARGO_TARGET_TMPDIR")).join("log-v1-replayed-answers.ndjson");
        std::fs::write(&actual, &replayed).expect("write the answers for inspection");
        panic!(
            "the replayed answers differ from replayed-answers.ndjson; see {}",
            actual.display()
        );
    }

    assert_eq!(digest, LEDGER_DIGEST, "ledger digest");
    assert_eq!(events_seen, EVENTS_SEEN);
    assert_eq!(riders_known, RIDERS_KNOWN);
    assert_eq!(pending_taps, PENDING_TAPS);
    assert_eq!(trial_balance, TRIAL_BALANCE);
    assert_eq!(operators, OPERATOR_REPORT);
}
