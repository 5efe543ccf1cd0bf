//! spec/rating.md "fare_discount": discount types, the best-discount choice, fiscal-year
//! budgets and partial use of a budget's remainder.

mod common;

use common::*;
use kanjo_rules::{BudgetIx, RatingState, Riders, commit, rate as rate_ride};
use serde_json::Value;

const BASE: &str = r#"
[town]
code = "012050"
timezone = "Asia/Tokyo"

[[fare_tables]]
operator = "bus"
flat_fare = 330
"#;

fn bus(id: &str, at: &str, rider: &str) -> String {
    ride(id, at, "bus", rider)
}

fn rate_bus(p: &kanjo_rules::Programme, riders: &Riders, rides: &[(&str, &str)]) -> Vec<Value> {
    let events: Vec<String> = rides
        .iter()
        .enumerate()
        .map(|(i, (at, rider))| bus(&format!("e{i}"), at, rider))
        .collect();
    rate(p, riders, &events)
}

fn discount_programme(discount: &str) -> kanjo_rules::Programme {
    programme(&format!(
        r#"{BASE}
[[budgets]]
id = "b"
fiscal_year = 2026
limit = 100000

[[rules]]
id = "d"
kind = "fare_discount"
discount = {discount}
funded_by = "b"
"#
    ))
}

fn pays_under(discount: &str) -> u64 {
    let p = discount_programme(discount);
    pays(&rate_bus(&p, &riders(&[]), &[("2026-11-25T09:00:00+09:00", "r")])[0])
}

#[test]
fn percent_off_rounds_up_down_or_to_the_yen() {
    // 330 × 0.5 = 165.
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 50, round = "up_10" }"#),
        170
    );
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 50, round = "down_10" }"#),
        160
    );
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 50, round = "none" }"#),
        165
    );
    // 330 × 0.7 = 231 exactly; 330 × 0.875 = 288.75.
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 30, round = "up_10" }"#),
        240
    );
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 12.5, round = "none" }"#),
        288
    );
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 12.5, round = "up_10" }"#),
        290
    );
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 100, round = "up_10" }"#),
        0
    );
    assert_eq!(
        pays_under(r#"{ type = "percent_off", percent = 0, round = "up_10" }"#),
        330
    );
}

#[test]
fn fixed_fare_pays_the_amount_or_the_fare_if_lower() {
    assert_eq!(pays_under(r#"{ type = "fixed_fare", amount = 200 }"#), 200);
    assert_eq!(pays_under(r#"{ type = "fixed_fare", amount = 500 }"#), 330);
    assert_eq!(pays_under(r#"{ type = "free" }"#), 0);
}

#[test]
fn a_discount_of_zero_applies_no_rule_and_charges_no_budget() {
    let p = discount_programme(r#"{ type = "fixed_fare", amount = 500 }"#);
    let line = &rate_bus(&p, &riders(&[]), &[("2026-11-25T09:00:00+09:00", "r")])[0];
    assert_eq!(line["discount"], 0);
    assert_eq!(line["funded_by"], Value::Null);
    assert!(rule_ids(line).is_empty());
}

fn two_rules(first: &str, second: &str, budgets: &str) -> kanjo_rules::Programme {
    programme(&format!(
        r#"{BASE}
{budgets}
[[rules]]
id = "first"
kind = "fare_discount"
discount = {first}
funded_by = "a"

[[rules]]
id = "second"
kind = "fare_discount"
discount = {second}
funded_by = "b"
"#
    ))
}

const BIG_BUDGETS: &str = r#"
[[budgets]]
id = "a"
fiscal_year = 2026
limit = 100000

[[budgets]]
id = "b"
fiscal_year = 2026
limit = 100000
"#;

#[test]
fn the_largest_discount_applies_and_discounts_never_stack() {
    let p = two_rules(
        r#"{ type = "fixed_fare", amount = 200 }"#,
        r#"{ type = "percent_off", percent = 50, round = "down_10" }"#,
        BIG_BUDGETS,
    );
    let line = &rate_bus(&p, &riders(&[]), &[("2026-11-25T09:00:00+09:00", "r")])[0];
    assert_eq!((pays(line), line["discount"].as_u64()), (160, Some(170)));
    assert_eq!(rule_ids(line), ["second"]);
    assert_eq!(line["funded_by"], "b");
}

#[test]
fn on_a_tie_the_earlier_rule_in_the_file_applies() {
    let p = two_rules(
        r#"{ type = "fixed_fare", amount = 165 }"#,
        r#"{ type = "percent_off", percent = 50, round = "none" }"#,
        BIG_BUDGETS,
    );
    let line = &rate_bus(&p, &riders(&[]), &[("2026-11-25T09:00:00+09:00", "r")])[0];
    assert_eq!(rule_ids(line), ["first"]);
    assert_eq!(line["funded_by"], "a");
}

#[test]
fn a_budget_exhausted_mid_fare_gives_only_its_remainder() {
    let p = programme(&format!(
        r#"{BASE}
[[budgets]]
id = "b"
fiscal_year = 2026
limit = 400

[[rules]]
id = "free"
kind = "fare_discount"
discount = {{ type = "free" }}
funded_by = "b"
"#
    ));
    let lines = rate_bus(
        &p,
        &riders(&[]),
        &[
            ("2026-11-25T09:00:00+09:00", "r"),
            ("2026-11-25T10:00:00+09:00", "r"),
            ("2026-11-25T11:00:00+09:00", "r"),
        ],
    );
    assert_eq!(lines[0]["discount"], 330);
    assert_eq!(
        (lines[1]["discount"].as_u64(), pays(&lines[1])),
        (Some(70), 260),
        "70 left of 400"
    );
    assert_eq!(rule_ids(&lines[1]), ["free"]);
    assert_eq!(
        lines[2]["discount"], 0,
        "nothing left: the rule gives nothing"
    );
    assert_eq!(lines[2]["funded_by"], Value::Null);
    assert!(rule_ids(&lines[2]).is_empty());
}

#[test]
fn an_exhausted_budget_lets_the_next_best_rule_apply() {
    let p = two_rules(
        r#"{ type = "free" }"#,
        r#"{ type = "percent_off", percent = 50, round = "up_10" }"#,
        r#"
[[budgets]]
id = "a"
fiscal_year = 2026
limit = 400

[[budgets]]
id = "b"
fiscal_year = 2026
limit = 100000
"#,
    );
    let lines = rate_bus(
        &p,
        &riders(&[]),
        &[
            ("2026-11-25T09:00:00+09:00", "r"),
            ("2026-11-25T10:00:00+09:00", "r"),
        ],
    );
    assert_eq!(rule_ids(&lines[0]), ["first"]);
    // "first" could give only 70 now; "second" gives 160.
    assert_eq!(rule_ids(&lines[1]), ["second"]);
    assert_eq!(lines[1]["discount"], 160);
}

#[test]
fn a_budget_only_funds_rides_in_its_fiscal_year_by_local_date() {
    let p = programme(&format!(
        r#"{BASE}
[[budgets]]
id = "b"
fiscal_year = 2026
limit = 100000

[[rules]]
id = "free"
kind = "fare_discount"
discount = {{ type = "free" }}
funded_by = "b"
"#
    ));
    let lines = rate_bus(
        &p,
        &riders(&[]),
        &[
            ("2026-03-31T23:59:59+09:00", "r"), // FY2025
            ("2026-03-31T15:00:00Z", "r"),      // 2026-04-01 00:00 Tokyo: FY2026
            ("2027-03-31T23:59:59+09:00", "r"), // last second of FY2026
            ("2027-03-31T15:00:00Z", "r"),      // 2027-04-01 Tokyo: FY2027
        ],
    );
    let discounts: Vec<u64> = lines
        .iter()
        .map(|l| l["discount"].as_u64().expect("rated"))
        .collect();
    assert_eq!(discounts, [0, 330, 330, 0]);
}

#[test]
fn one_budget_id_may_have_a_limit_per_fiscal_year() {
    let p = programme(&format!(
        r#"{BASE}
[[budgets]]
id = "b"
fiscal_year = 2026
limit = 330

[[budgets]]
id = "b"
fiscal_year = 2027
limit = 100

[[rules]]
id = "free"
kind = "fare_discount"
discount = {{ type = "free" }}
funded_by = "b"
"#
    ));
    let lines = rate_bus(
        &p,
        &riders(&[]),
        &[
            ("2027-03-31T09:00:00+09:00", "r"),
            ("2027-03-31T10:00:00+09:00", "r"),
            ("2027-04-01T09:00:00+09:00", "r"),
        ],
    );
    let discounts: Vec<u64> = lines
        .iter()
        .map(|l| l["discount"].as_u64().expect("rated"))
        .collect();
    assert_eq!(discounts, [330, 0, 100]);
}

#[test]
fn budget_used_is_exact_after_commit() {
    let p = programme(&format!(
        r#"{BASE}
[[budgets]]
id = "b"
fiscal_year = 2026
limit = 1000

[[rules]]
id = "half"
kind = "fare_discount"
discount = {{ type = "percent_off", percent = 50, round = "up_10" }}
funded_by = "b"
"#
    ));
    let registry = riders(&[]);
    let mut state = RatingState::new(&p);
    let fields: kanjo_rules::RideFields =
        serde_json::from_str(&bus("x", "2026-11-25T09:00:00+09:00", "r")).expect("json");
    let ride = p.resolve_ride(&registry, &fields).expect("resolves");
    let mut total = 0;
    for _ in 0..8 {
        let rating = rate_ride(&p, &registry, &state, &ride).expect("rates");
        assert_eq!(
            state.budget_used(BudgetIx(0)),
            total,
            "rate alone changes nothing"
        );
        commit(&mut state, &ride, &rating);
        total += rating.discount;
        assert_eq!(state.budget_used(BudgetIx(0)), total);
    }
    assert_eq!(total, 1000, "6 × 160 + the last 40");
}
