//! Shop payments survive a restart: the command log (events and shop records) replays to the same
//! answers, the same shops and the same ledger digest, and holds still wait for their capture.

mod common;

use std::path::{Path, PathBuf};

use common::{TempDir, sqlite};
use kanjo_engine::event::Event;
use kanjo_engine::machine::Machine;
use kanjo_engine::pipeline::{Engine, EngineConfig};
use kanjo_engine::store::StoreTarget;
use serde_json::Value;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/purchases-example")
        .join(name)
}

fn start(store: &StoreTarget) -> Engine {
    Engine::start(EngineConfig::new(store.clone(), example("programme.toml")))
        .expect("the engine starts on the purchases example")
}

fn events(text: &str) -> Vec<Event> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| Event::parse(line).expect("a valid event"))
        .collect()
}

/// Every example id's stored answer, the bakery, and the ledger digest.
fn snapshot(engine: &Engine, ids: Vec<String>) -> (Vec<Value>, Option<Value>, u128) {
    let context_engine = engine.clone();
    let (outcomes, shop, digest) = engine
        .query_blocking(move |machine: &Machine| {
            let outcomes: Vec<_> = ids
                .iter()
                .map(|id| (id.clone(), machine.outcome(id).cloned()))
                .collect();
            let shop = machine.shop("bakery").map(|spec| spec.to_json());
            (outcomes, shop, machine.ledger().digest())
        })
        .expect("the query runs");
    let context = context_engine.answer_context();
    let answers = outcomes
        .iter()
        .map(|(id, outcome)| context.to_json(id, outcome.as_ref().expect("answered")))
        .collect();
    (answers, shop, digest)
}

#[test]
fn the_log_replays_to_the_same_answers_shops_and_ledger() {
    let dir = TempDir::new("shops-replay");
    let store = sqlite(&dir.join("data"));
    let text = std::fs::read_to_string(example("events.ndjson")).unwrap();
    let all = events(&text);
    let ids: Vec<String> = all.iter().map(|event| event.id.clone()).collect();

    let engine = start(&store);
    let bakery = r#"{"id":"bakery","name":"室蘭パン","name_kana":"ﾑﾛﾗﾝﾊﾟﾝ","categories":["grocery"],"fees_bp":{"SUZU":100,"JPY":100}}"#;
    let shops = kanjo_core::shops::parse_shops(bakery, engine.answer_context().assets, 16).unwrap();
    let records: Vec<_> = shops.into_iter().map(|item| item.unwrap()).collect();
    let results = engine
        .submit_shops(records)
        .unwrap()
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(results, [Ok(())]);
    // In three submissions, so the log holds several records.
    for chunk in all.chunks(10) {
        engine.submit(chunk.to_vec()).expect("submitted");
    }
    // A hold left open across the restart.
    engine
        .submit(events(
            r#"{"id":"a-9","type":"authorize","at":"2026-11-26T11:30:00+09:00","shop":"bakery","rider":"r-3","amount":100}"#,
        ))
        .unwrap();
    let before = snapshot(&engine, ids.clone());
    engine.shutdown();

    let engine = start(&store);
    let after = snapshot(&engine, ids);
    assert_eq!(after.0, before.0, "the same answers");
    assert_eq!(after.1, before.1, "the same shop record");
    assert!(after.1.is_some());
    assert_eq!(after.2, before.2, "the same ledger digest");
    let answers = engine
        .submit(events(
            r#"{"id":"c-9","type":"capture","at":"2026-11-26T11:35:00+09:00","authorization":"a-9","amount":100}"#,
        ))
        .unwrap();
    let context = engine.answer_context();
    let answer = context.to_json(&answers[0].id, &answers[0].outcome);
    assert_eq!(answer["status"], "accepted", "{answer}");
    assert_eq!(answer["fees"][0]["amount"], 1);
    engine.shutdown();
}
