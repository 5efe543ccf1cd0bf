//! Settlement of pass money (issues 10 and 13): a `per_ride` pass owes the operator each covered
//! ride's fare on the ride's day, from its budget (a `subsidy:{budget}` line, like any subsidised
//! ride); a `flat` pass owes its price on the issue day (a `pass` line). Closing the month moves
//! each exactly once into `payable:operator:{op}:JPY`. (It once counted per-ride fares twice, as
//! subsidy and as pass money, so the operator's payable was carried unpaid.)

mod settlement_common;

use std::path::Path;

use settlement_common::Town;

const PROGRAMME: &str = r#"
[town]
code = "282006"
name = "神戸市"
timezone = "Asia/Tokyo"

[[fare_tables]]
operator = "kaigan"
flat_fare = 210

[[fare_tables]]
operator = "city-bus"
flat_fare = 230

[[budgets]]
id = "pupil-fund"
fiscal_year = 2026
limit = 100000000

[[passes]]
id = "pupil-6m"
asset = "pupil-pass"
valid_months = 6
operators = ["kaigan"]
rides_per_day = 2
payment = "per_ride"
funded_by = "pupil-fund"

[[passes]]
id = "city-month"
asset = "city-pass"
valid_days = 30
operators = ["city-bus"]
payment = "flat"
price = 1500
funded_by = "pupil-fund"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "pupil-pass"
kind = "entitlement"

[[assets]]
code = "city-pass"
kind = "entitlement"
"#;

fn town() -> Town {
    let mut town = Town::from_toml(Path::new("programme.toml"), PROGRAMME);
    town.riders(&[
        r#"{"rider":"pupil","birth_date":"2013-06-01","residence":"282006","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
    ]);
    town
}

fn grant(id: &str, rider: &str, asset: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"grant","at":"{at}","rider":"{rider}","asset":"{asset}","amount":1}}"#
    )
}

fn ride(id: &str, operator: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"{operator}","rider":"pupil","media":"cash"}}"#
    )
}

#[test]
fn per_ride_passes_owe_each_fare_on_its_day_and_flat_passes_their_price_on_the_issue_day() {
    let mut town = town();
    let answers = town.answers(&[
        grant(
            "g-pupil",
            "pupil",
            "pupil-pass",
            "2026-11-02T08:00:00+09:00",
        ),
        grant("g-city", "pupil", "city-pass", "2026-11-05T09:00:00+09:00"),
        ride("k-1", "kaigan", "2026-11-02T08:30:00+09:00"),
        ride("k-2", "kaigan", "2026-11-03T08:30:00+09:00"),
        ride("c-1", "city-bus", "2026-11-06T10:00:00+09:00"),
    ]);
    for answer in &answers {
        assert_eq!(answer["status"], "accepted", "{answer}");
    }
    for answer in &answers[2..] {
        assert_eq!(answer["rider_pays"], 0, "a pass covers it: {answer}");
    }
    let settlement = town.settle("2026-11-30").expect("the month closes");
    let lines: Vec<(&str, &str, &str, i128)> = settlement
        .lines
        .iter()
        .map(|l| {
            (
                l.party.as_str(),
                l.day.as_str(),
                l.source.as_str(),
                l.amount_minor,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("operator:city-bus", "2026-11-05", "pass", 1500),
            ("operator:kaigan", "2026-11-02", "subsidy:pupil-fund", 210),
            ("operator:kaigan", "2026-11-03", "subsidy:pupil-fund", 210),
        ],
        "flat: the price on the issue day (the ride owes nothing more); per ride: each fare, \
         once, as its budget's subsidy"
    );
    assert!(settlement.carried.is_empty(), "{:?}", settlement.carried);
    assert!(settlement.lines.iter().all(|line| !line.adjustment));
    assert_eq!(town.payable("operator:kaigan", "JPY"), 420);
    assert_eq!(town.payable("operator:city-bus", "JPY"), 1500);
}
