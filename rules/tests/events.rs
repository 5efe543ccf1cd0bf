//! spec/rating.md "Events" and the error codes: every event line gets one output line, bad
//! input gets a specific code, and a rejected event changes no state.

mod common;

use common::*;
use serde_json::Value;

const POINTS_AND_CAP: &str = r#"
[[rules]]
id = "cap"
kind = "daily_cap"
amount = 150

[[rules]]
id = "reward"
kind = "ride_reward"
every = 2
asset = "ticket"
amount = 1

[[rules]]
id = "half"
kind = "fare_discount"
discount = { type = "percent_off", percent = 50, round = "none" }
funded_by = "small"
"#;

fn programme_with_small_budget() -> kanjo_rules::Programme {
    programme(&format!(
        "{HEADER}\n[[budgets]]\nid = \"small\"\nfiscal_year = 2026\nlimit = 60\n{POINTS_AND_CAP}"
    ))
}

fn lines(events: &[&str]) -> Vec<Value> {
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    rate(&programme_with_small_budget(), &riders(&[]), &events)
}

#[test]
fn a_line_that_is_not_json_gets_a_bad_event_with_a_null_id() {
    let out = lines(&[
        "{not json",
        "[1,2]",
        r#"{"type":"ride"}"#,
        r#"{"id":7,"type":"ride"}"#,
    ]);
    assert_eq!(out.len(), 4);
    for line in &out {
        assert_eq!(line["id"], Value::Null);
        assert_eq!(error_code(line), "bad_event");
    }
}

#[test]
fn blank_lines_are_not_events() {
    assert!(lines(&["", "   ", "\t"]).is_empty());
}

#[test]
fn an_unknown_type_or_missing_field_is_a_bad_event() {
    let out = lines(&[
        r#"{"id":"a","type":"teleport","at":"2026-11-25T09:00:00+09:00","operator":"town-bus"}"#,
        r#"{"id":"b","at":"2026-11-25T09:00:00+09:00","operator":"town-bus"}"#,
        r#"{"id":"c","type":"ride","operator":"town-bus"}"#,
        r#"{"id":"d","type":"ride","at":"yesterday","operator":"town-bus"}"#,
        r#"{"id":"e","type":"ride","at":"2026-11-25T09:00:00","operator":"town-bus"}"#,
        r#"{"id":"f","type":"ride","at":"2026-11-25T09:00:00+09:00","operator":"town-bus","rider":5}"#,
        r#"{"id":"g","type":"ride","at":"2026-11-25T09:00:00+09:00"}"#,
    ]);
    let codes: Vec<&str> = out.iter().map(error_code).collect();
    assert_eq!(codes, ["bad_event"; 7]);
    let ids: Vec<&str> = out
        .iter()
        .map(|l| l["id"].as_str().expect("string id"))
        .collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e", "f", "g"]);
}

#[test]
fn an_unknown_operator_is_named() {
    let out =
        lines(&[r#"{"id":"a","type":"ride","at":"2026-11-25T09:00:00+09:00","operator":"metro"}"#]);
    assert_eq!(error_code(&out[0]), "unknown_operator");
    assert!(
        out[0]["error"]["message"]
            .as_str()
            .expect("message")
            .contains("metro")
    );
}

#[test]
fn an_id_seen_earlier_is_a_duplicate_even_if_the_first_was_rejected() {
    let out = lines(&[
        &ride("a", "2026-11-25T09:00:00+09:00", "town-bus", "r"),
        &ride("a", "2026-11-25T10:00:00+09:00", "town-bus", "r"),
        r#"{"id":"b","type":"ride","at":"2026-11-25T09:00:00+09:00","operator":"metro"}"#,
        &ride("b", "2026-11-25T11:00:00+09:00", "town-bus", "r"),
    ]);
    assert_eq!(out[0]["fare"], 100);
    assert_eq!(error_code(&out[1]), "duplicate_id");
    assert_eq!(error_code(&out[2]), "unknown_operator");
    assert_eq!(error_code(&out[3]), "duplicate_id");
}

#[test]
fn a_rejected_event_changes_no_budget_cap_or_counter() {
    let clean = lines(&[
        &ride("1", "2026-11-25T09:00:00+09:00", "town-bus", "r"),
        &ride("2", "2026-11-25T10:00:00+09:00", "town-bus", "r"),
    ]);
    let with_rejects = lines(&[
        &ride("1", "2026-11-25T09:00:00+09:00", "town-bus", "r"),
        r#"{"id":"x","type":"ride","at":"2026-11-25T09:30:00+09:00","operator":"metro","rider":"r"}"#,
        &ride("1", "2026-11-25T09:40:00+09:00", "town-bus", "r"),
        r#"{"id":"y","type":"refund","at":"2026-11-25T09:50:00+09:00","operator":"town-bus","rider":"r"}"#,
        &ride("2", "2026-11-25T10:00:00+09:00", "town-bus", "r"),
    ]);
    assert_eq!(with_rejects[0], clean[0]);
    assert_eq!(with_rejects[4], clean[1]);
    // The second ride: budget 60 − 50 = 10 left, the cap of 150 not reached, reward on ride 2.
    assert_eq!(clean[1]["discount"], 10);
    assert_eq!(rule_ids(&clean[1]), ["reward", "half"]);
}

#[test]
fn extra_event_fields_are_ignored_and_a_null_rider_means_no_rider() {
    let out = lines(&[
        r#"{"id":"a","type":"ride","at":"2026-11-25T09:00:00+09:00","operator":"town-bus","rider":null,"media":"ic","extra":{"x":1}}"#,
    ]);
    assert_eq!(out[0]["fare"], 100);
    assert!(
        out[0]["grants"].as_array().expect("rated").is_empty(),
        "no rider, no counter"
    );
}

#[test]
fn an_empty_rider_id_is_a_bad_event() {
    let out = lines(&[&ride("a", "2026-11-25T09:00:00+09:00", "town-bus", "")]);
    assert_eq!(error_code(&out[0]), "bad_event");
}
