//! spec/rating.md "daily_cap", "ride_reward", "points_per_ride", and the order of `rules`
//! and `grants` in the output.

mod common;

use common::*;
use serde_json::{Value, json};

const CAP_AND_HALF: &str = r#"
[[rules]]
id = "half"
kind = "fare_discount"
eligible = { disability = true }
discount = { type = "percent_off", percent = 50, round = "up_10" }
funded_by = "fund"

[[rules]]
id = "cap"
kind = "daily_cap"
operators = ["coach"]
amount = 500
"#;

fn coach(id: &str, at: &str, rider: &str) -> String {
    ride(id, at, "coach", rider)
}

#[test]
fn a_daily_cap_limits_what_is_paid_over_the_local_day() {
    let p = with_rules(CAP_AND_HALF);
    let lines = rate(
        &p,
        &riders(&[]),
        &[
            coach("1", "2026-11-25T08:00:00+09:00", "v"),
            coach("2", "2026-11-25T12:00:00+09:00", "v"),
            coach("3", "2026-11-25T18:00:00+09:00", "v"),
            // Midnight in Tokyo starts a new day, though it is still the 25th in UTC.
            coach("4", "2026-11-25T15:00:00Z", "v"),
        ],
    );
    let paid: Vec<u64> = lines.iter().map(pays).collect();
    assert_eq!(paid, [300, 200, 0, 300]);
    assert_eq!(lines[1]["cap_waived"], 100);
    assert_eq!(lines[2]["cap_waived"], 300);
    assert_eq!(rule_ids(&lines[1]), ["cap"]);
    assert!(rule_ids(&lines[0]).is_empty());
}

#[test]
fn a_cap_applies_after_the_discount_and_counts_what_was_paid() {
    let p = with_rules(CAP_AND_HALF);
    let registry = riders(&[r#"{"rider":"d","disability":true}"#]);
    let lines = rate(
        &p,
        &registry,
        &[
            coach("1", "2026-11-25T08:00:00+09:00", "d"),
            coach("2", "2026-11-25T09:00:00+09:00", "d"),
            coach("3", "2026-11-25T10:00:00+09:00", "d"),
            coach("4", "2026-11-25T11:00:00+09:00", "d"),
        ],
    );
    // 300 → 150 → up_10 = 150 each; the cap of 500 cuts the 4th ride to 50.
    let paid: Vec<u64> = lines.iter().map(pays).collect();
    assert_eq!(paid, [150, 150, 150, 50]);
    assert_eq!(
        (
            lines[3]["discount"].as_u64(),
            lines[3]["cap_waived"].as_u64()
        ),
        (Some(150), Some(100))
    );
    assert_eq!(rule_ids(&lines[3]), ["half", "cap"]);
    assert_eq!(lines[3]["funded_by"], "fund");
}

#[test]
fn a_cap_counts_only_its_operators() {
    let p = with_rules(CAP_AND_HALF);
    let lines = rate(
        &p,
        &riders(&[]),
        &[
            ride("1", "2026-11-25T08:00:00+09:00", "town-bus", "v"),
            coach("2", "2026-11-25T09:00:00+09:00", "v"),
            coach("3", "2026-11-25T10:00:00+09:00", "v"),
            ride("4", "2026-11-25T11:00:00+09:00", "town-bus", "v"),
        ],
    );
    let paid: Vec<u64> = lines.iter().map(pays).collect();
    assert_eq!(paid, [100, 300, 200, 100]);
}

#[test]
fn caps_are_per_rider_id_even_for_unknown_riders_and_absent_without_a_rider() {
    let p = with_rules(CAP_AND_HALF);
    let no_rider = |id: &str| {
        format!(
            r#"{{"id":"{id}","type":"ride","at":"2026-11-25T09:00:00+09:00","operator":"coach"}}"#
        )
    };
    let lines = rate(
        &p,
        &riders(&[]),
        &[
            coach("1", "2026-11-25T08:00:00+09:00", "stranger-1"),
            coach("2", "2026-11-25T09:00:00+09:00", "stranger-2"),
            coach("3", "2026-11-25T10:00:00+09:00", "stranger-1"),
            no_rider("4"),
            no_rider("5"),
        ],
    );
    let paid: Vec<u64> = lines.iter().map(pays).collect();
    assert_eq!(paid, [300, 300, 200, 300, 300]);
}

#[test]
fn a_cap_only_limits_eligible_riders() {
    let p = with_rules(
        r#"
[[rules]]
id = "senior-cap"
kind = "daily_cap"
eligible = { min_age = 65 }
amount = 300
"#,
    );
    let registry = riders(&[r#"{"rider":"old","birth_date":"1950-01-01"}"#]);
    let lines = rate(
        &p,
        &registry,
        &[
            coach("1", "2026-11-25T08:00:00+09:00", "old"),
            coach("2", "2026-11-25T09:00:00+09:00", "old"),
            coach("3", "2026-11-25T08:00:00+09:00", "young"),
            coach("4", "2026-11-25T09:00:00+09:00", "young"),
        ],
    );
    let paid: Vec<u64> = lines.iter().map(pays).collect();
    assert_eq!(paid, [300, 0, 300, 300]);
}

const REWARD_AND_POINTS: &str = r#"
[[rules]]
id = "points"
kind = "points_per_ride"
eligible = { resident_of = "012050" }
asset = "pt"
amount = 10

[[rules]]
id = "fifth-free"
kind = "ride_reward"
operators = ["town-bus"]
every = 3
asset = "ticket"
amount = 1

[[rules]]
id = "free"
kind = "fare_discount"
eligible = { min_age = 75 }
discount = { type = "free" }
funded_by = "fund"
"#;

#[test]
fn every_nth_eligible_ride_is_rewarded_counting_free_rides_on_the_rule_operators_only() {
    let p = with_rules(REWARD_AND_POINTS);
    let registry = riders(&[r#"{"rider":"s","birth_date":"1940-01-01","residence":"012050"}"#]);
    let lines = rate(
        &p,
        &registry,
        &[
            ride("1", "2026-11-25T08:00:00+09:00", "town-bus", "s"),
            coach("2", "2026-11-25T09:00:00+09:00", "s"),
            ride("3", "2026-11-26T08:00:00+09:00", "town-bus", "s"),
            ride("4", "2026-11-27T08:00:00+09:00", "town-bus", "s"),
            ride("5", "2026-11-28T08:00:00+09:00", "town-bus", "s"),
        ],
    );
    let rewarded: Vec<bool> = lines
        .iter()
        .map(|l| rule_ids(l).contains(&"fifth-free".to_string()))
        .collect();
    assert_eq!(
        rewarded,
        [false, false, false, true, false],
        "3rd town-bus ride, free rides counted, coach not"
    );
    assert_eq!(pays(&lines[3]), 0);
    // `rules` and `grants` are in file order, whatever the kind.
    assert_eq!(rule_ids(&lines[3]), ["points", "fifth-free", "free"]);
    assert_eq!(
        lines[3]["grants"],
        json!([
            {"asset": "pt", "amount": 10, "rule": "points"},
            {"asset": "ticket", "amount": 1, "rule": "fifth-free"},
        ])
    );
}

#[test]
fn ride_counters_are_per_rider_and_need_a_rider_id() {
    let p = with_rules(REWARD_AND_POINTS);
    let no_rider = |id: &str| {
        format!(
            r#"{{"id":"{id}","type":"ride","at":"2026-11-25T09:00:00+09:00","operator":"town-bus"}}"#
        )
    };
    let mut events: Vec<String> = (0..3).map(|i| no_rider(&format!("n{i}"))).collect();
    events.push(ride("a1", "2026-11-25T10:00:00+09:00", "town-bus", "a"));
    events.push(ride("b1", "2026-11-25T10:00:00+09:00", "town-bus", "b"));
    events.push(ride("a2", "2026-11-25T11:00:00+09:00", "town-bus", "a"));
    events.push(ride("a3", "2026-11-25T12:00:00+09:00", "town-bus", "a"));
    let lines = rate(&p, &riders(&[]), &events);
    let rewarded: Vec<bool> = lines
        .iter()
        .map(|l| !l["grants"].as_array().expect("rated").is_empty())
        .collect();
    assert_eq!(rewarded, [false, false, false, false, false, false, true]);
}

#[test]
fn points_are_granted_on_every_eligible_ride() {
    let p = with_rules(REWARD_AND_POINTS);
    let registry = riders(&[
        r#"{"rider":"resident","residence":"012050"}"#,
        r#"{"rider":"visitor","residence":"011002"}"#,
    ]);
    let lines = rate(
        &p,
        &registry,
        &[
            coach("1", "2026-11-25T08:00:00+09:00", "resident"),
            coach("2", "2026-11-25T09:00:00+09:00", "visitor"),
        ],
    );
    assert_eq!(
        lines[0]["grants"],
        json!([{"asset": "pt", "amount": 10, "rule": "points"}])
    );
    assert_eq!(lines[1]["grants"], json!([]));
    assert_eq!(lines[1]["rules"], json!([]));
}

#[test]
fn output_lines_have_exactly_the_spec_keys() {
    let p = with_rules(REWARD_AND_POINTS);
    let line = &rate(
        &p,
        &riders(&[]),
        &[coach("1", "2026-11-25T08:00:00+09:00", "x")],
    )[0];
    let Value::Object(map) = line else {
        panic!("an object")
    };
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cap_waived",
            "discount",
            "fare",
            "funded_by",
            "grants",
            "id",
            "rider_pays",
            "rules"
        ]
    );
}
