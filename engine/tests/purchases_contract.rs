//! The purchases contract (spec/purchases.md), through the built binary:
//! `kanjo import EVENTS --programme PROGRAMME --answers --data DIR` prints one answer per input
//! line in input order, equal to spec/purchases-example/expected.ndjson on the spec's keys, and
//! exits 0; lines refused at parsing keep their place; importing the same file again into the
//! same store (a replay of its log) answers exactly the same.

mod common;

use std::path::{Path, PathBuf};

use common::{TempDir, kanjo};
use serde_json::{Map, Value};

/// The keys spec/purchases.md compares; everything else in an answer is free.
const CONTRACT_KEYS: [&str; 11] = [
    "id",
    "status",
    "type",
    "asset",
    "amount",
    "paid",
    "fees",
    "held",
    "released",
    "returned",
    "fees_returned",
];

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/purchases-example")
        .join(name)
}

fn import(events: &Path, data: &Path) -> std::process::Output {
    let programme = example("programme.toml");
    kanjo(&[
        "import",
        events.to_str().unwrap(),
        "--programme",
        programme.to_str().unwrap(),
        "--answers",
        "--data",
        data.to_str().unwrap(),
    ])
}

/// An answer reduced to the contract's keys, `error.code` included.
fn contract_view(line: &str) -> Value {
    let answer: Value =
        serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
    let mut view = Map::new();
    for key in CONTRACT_KEYS {
        if let Some(value) = answer.get(key) {
            view.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(error) = answer.get("error") {
        assert!(
            error["message"].is_string(),
            "an error has a message: {line}"
        );
        view.insert("error.code".into(), error["code"].clone());
    }
    Value::Object(view)
}

fn lines(bytes: &[u8]) -> Vec<String> {
    std::str::from_utf8(bytes)
        .expect("UTF-8 output")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_example_answers_as_expected_ndjson_in_input_order_and_exits_0() {
    let dir = TempDir::new("purchases-contract");
    let output = import(&example("events.ndjson"), &dir.join("data"));
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let got = lines(&output.stdout);
    let expected = lines(&std::fs::read(example("expected.ndjson")).expect("expected.ndjson"));
    assert_eq!(got.len(), expected.len(), "one answer per event");
    for (number, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            contract_view(got),
            contract_view(expected),
            "line {}: {got}",
            number + 1
        );
    }
}

#[test]
fn lines_refused_at_parsing_keep_their_place() {
    let dir = TempDir::new("purchases-order");
    let events = dir.join("events.ndjson");
    let text = [
        r#"{"id":"t-1","type":"topup","at":"2026-11-26T09:00:00+09:00","rider":"r-1","asset":"JPY","amount":5000}"#,
        r#"not JSON at all"#,
        r#"{"id":"p-1","type":"purchase","at":"2026-11-26T09:10:00+09:00","shop":"books","rider":"r-1","amount":0}"#,
        r#"{"id":"p-2","type":"purchase","at":"2026-11-26T09:10:00+09:00","shop":"books","rider":"r-1","amount":100}"#,
        r#"{"id":"p-3","type":"teleport","at":"2026-11-26T09:10:00+09:00"}"#,
    ]
    .join("\n");
    std::fs::write(&events, text).unwrap();
    let output = import(&events, &dir.join("data"));
    assert!(output.status.success());
    let answers: Vec<Value> = lines(&output.stdout)
        .iter()
        .map(|line| contract_view(line))
        .collect();
    let ids: Vec<&Value> = answers.iter().map(|answer| &answer["id"]).collect();
    assert_eq!(
        ids,
        [
            &Value::from("t-1"),
            &Value::Null,
            &Value::from("p-1"),
            &Value::from("p-2"),
            &Value::from("p-3")
        ]
    );
    let codes: Vec<&Value> = answers.iter().map(|answer| &answer["error.code"]).collect();
    assert_eq!(codes[1], "bad_event");
    assert_eq!(codes[2], "bad_event");
    assert_eq!(answers[3]["status"], "accepted");
    assert_eq!(codes[4], "bad_event");
}

#[test]
fn importing_the_example_again_replays_the_log_and_answers_the_same() {
    let dir = TempDir::new("purchases-replay");
    let data = dir.join("data");
    let first = import(&example("events.ndjson"), &data);
    assert!(first.status.success());
    let second = import(&example("events.ndjson"), &data);
    assert!(
        second.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        lines(&second.stdout),
        lines(&first.stdout),
        "every id answers its first answer"
    );
    let balance = kanjo(&["report", "trial-balance", "--data", data.to_str().unwrap()]);
    assert!(
        balance.status.success(),
        "{}",
        String::from_utf8_lossy(&balance.stdout)
    );
}
