//! Conversions and activity grants at a place (issue 9), on the machine alone. 備前 converts the
//! national Mynapoint (`myna-pt`) into town points (`bizen-pt`) 1:1, once per person; 1 000 town
//! points convert into a ¥1 000 voucher (`bizen-v`, a voucher asset with its own 180-day expiry,
//! 1 000 → 1 000 in whole blocks); `health-pt`
//! is granted at a health class at most twice per rider, place and day.

mod shops_common;

use kanjo_core::machine::MachineConfig;
use serde_json::{Value, json};
use shops_common::*;

const PROGRAMME: &str = r#"
[town]
code = "332127"
name = "備前市"
timezone = "Asia/Tokyo"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "myna-pt"
kind = "points"

[[assets]]
code = "bizen-pt"
kind = "points"

[[assets]]
code = "bizen-v"
kind = "points"
expires_after_days = 180

# A real premium voucher (sold at ¥1 000 for 1 000 units), which points can also buy.
[assets.voucher]
price = 1000
face = 1000
limit_sets = 5
sale_starts_at = "2026-04-01T00:00:00+09:00"
sale_ends_at = "2027-04-01T00:00:00+09:00"
premium_budget = 0

[[assets]]
code = "health-pt"
kind = "points"
grants_per_place_per_day = 2

[[conversions]]
from = "myna-pt"
to = "bizen-pt"
from_units = 1
to_units = 1
once_per_person = true

[[conversions]]
from = "bizen-pt"
to = "bizen-v"
from_units = 1000
to_units = 1000
"#;

fn bizen() -> Town {
    Town::from_toml(&example_programme(), PROGRAMME, MachineConfig::default())
}

fn convert(id: &str, rider: &str, from: &str, to: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"convert","at":"{}","rider":"{rider}","from_asset":"{from}","to_asset":"{to}","amount":{amount}}}"#,
        at("10:00")
    )
}

fn grant_at_place(id: &str, at: &str, rider: &str, place: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"grant","at":"{at}","rider":"{rider}","asset":"health-pt","amount":10,"place":"{place}"}}"#
    )
}

fn accepted(answer: Value) -> Value {
    assert_eq!(answer["status"], "accepted", "{answer}");
    answer
}

#[test]
fn a_conversion_takes_whole_blocks_and_leaves_the_remainder_in_the_source() {
    let mut town = bizen();
    accepted(town.one(grant("g-1", "09:00", "r-1", "bizen-pt", 2_500)));
    let answer = accepted(town.one(convert("c-1", "r-1", "bizen-pt", "bizen-v", 2_500)));
    assert_eq!(
        answer,
        json!({
            "id": "c-1", "status": "accepted", "type": "convert", "from_asset": "bizen-pt",
            "to_asset": "bizen-v", "taken": 2_000, "received": 2_000, "remainder": 500,
        })
    );
    assert_eq!(
        town.balance("rider:r-1:bizen-pt"),
        500,
        "the remainder stays"
    );
    assert_eq!(town.balance("rider:r-1:bizen-v"), 2_000);
    assert_eq!(
        town.balance("issuer:bizen-pt"),
        500,
        "2 000 given back to the issuer"
    );
    let converted_at: jiff::Timestamp = at("10:00").parse().unwrap();
    let voucher_lots: Vec<(u64, i128)> = town
        .machine
        .lots("r-1", "bizen-v")
        .unwrap()
        .iter()
        .map(|lot| (lot.left_minor, lot.ends_ns))
        .collect();
    assert_eq!(
        voucher_lots,
        [(
            2_000,
            converted_at.as_nanosecond() + 180 * 86_400 * 1_000_000_000
        )],
        "the voucher units are one lot with the voucher's own expiry, from the conversion"
    );
}

#[test]
fn less_than_one_block_converts_nothing() {
    let mut town = bizen();
    accepted(town.one(grant("g-1", "09:00", "r-1", "bizen-pt", 999)));
    let before = town.digest();
    let answer = town.one(convert("c-1", "r-1", "bizen-pt", "bizen-v", 999));
    assert_eq!(refused(&answer), "below_conversion_rate");
    assert_eq!(town.digest(), before, "nothing moved");
}

#[test]
fn a_conversion_needs_the_amount_offered() {
    let mut town = bizen();
    accepted(town.one(grant("g-1", "09:00", "r-1", "bizen-pt", 1_500)));
    let answer = town.one(convert("c-1", "r-1", "bizen-pt", "bizen-v", 2_000));
    assert_eq!(refused(&answer), "insufficient_funds");
}

#[test]
fn the_mynapoint_claim_converts_once_per_person() {
    let mut town = bizen();
    accepted(town.one(grant("g-1", "09:00", "r-1", "myna-pt", 5_000)));
    accepted(town.one(convert("c-1", "r-1", "myna-pt", "bizen-pt", 3_000)));
    let answer = town.one(convert("c-2", "r-1", "myna-pt", "bizen-pt", 1_000));
    assert_eq!(refused(&answer), "already_claimed");
    assert_eq!(town.balance("rider:r-1:myna-pt"), 2_000);
    assert_eq!(town.balance("rider:r-1:bizen-pt"), 3_000);
    accepted(town.one(grant("g-2", "09:00", "r-2", "myna-pt", 10)));
    accepted(town.one(convert("c-3", "r-2", "myna-pt", "bizen-pt", 10)));
}

#[test]
fn a_refused_claim_does_not_use_the_once() {
    let mut town = bizen();
    let answer = town.one(convert("c-1", "r-1", "myna-pt", "bizen-pt", 10));
    assert_eq!(refused(&answer), "insufficient_funds");
    accepted(town.one(grant("g-1", "09:00", "r-1", "myna-pt", 10)));
    accepted(town.one(convert("c-2", "r-1", "myna-pt", "bizen-pt", 10)));
}

#[test]
fn only_declared_conversions_run() {
    let mut town = bizen();
    accepted(town.one(grant("g-1", "09:00", "r-1", "bizen-v", 1_000)));
    let answer = town.one(convert("c-1", "r-1", "bizen-v", "bizen-pt", 1_000));
    assert_eq!(refused(&answer), "no_conversion");
}

#[test]
fn grants_at_a_place_are_limited_per_rider_place_and_local_day() {
    let mut town = bizen();
    let morning = "2026-11-26T09:00:00+09:00";
    accepted(town.one(grant_at_place("h-1", morning, "r-1", "gym")));
    accepted(town.one(grant_at_place("h-2", morning, "r-1", "gym")));
    let third = town.one(grant_at_place("h-3", morning, "r-1", "gym"));
    assert_eq!(refused(&third), "grant_limit_reached");
    accepted(town.one(grant_at_place("h-4", morning, "r-1", "library")));
    accepted(town.one(grant_at_place("h-5", morning, "r-2", "gym")));
    // 23:59:59 JST is still the 26th; 00:00 JST the 27th is a new day.
    let late = town.one(grant_at_place(
        "h-6",
        "2026-11-26T23:59:59+09:00",
        "r-1",
        "gym",
    ));
    assert_eq!(refused(&late), "grant_limit_reached");
    accepted(town.one(grant_at_place(
        "h-7",
        "2026-11-27T00:00:00+09:00",
        "r-1",
        "gym",
    )));
    accepted(town.one(grant("h-8", "09:00", "r-1", "health-pt", 10)));
    assert_eq!(town.balance("rider:r-1:health-pt"), 50);
}

#[test]
fn conversions_are_checked_at_load() {
    for table in [
        "from = \"bizen-pt\"\nto = \"bizen-pt\"\nfrom_units = 1\nto_units = 1",
        "from = \"bizen-pt\"\nto = \"nope\"\nfrom_units = 1\nto_units = 1",
        "from = \"bizen-pt\"\nto = \"JPY\"\nfrom_units = 1\nto_units = 1",
        "from = \"bizen-pt\"\nto = \"myna-pt\"\nfrom_units = 0\nto_units = 1",
    ] {
        let text = format!(
            "[[assets]]\ncode = \"bizen-pt\"\nkind = \"points\"\n\n[[assets]]\ncode = \"myna-pt\"\nkind = \"points\"\n\n[[conversions]]\n{table}\n"
        );
        let section: kanjo_core::chart::AssetSection = toml::from_str(&text).unwrap();
        let loaded = kanjo_core::chart::AssetBook::from_section("test", section, &[]);
        assert!(loaded.is_err(), "{table} is refused");
    }
}

#[test]
fn replay_gives_the_same_answers_and_the_same_digest() {
    let story = || {
        vec![
            grant("g-1", "09:00", "r-1", "myna-pt", 1_200),
            convert("c-1", "r-1", "myna-pt", "bizen-pt", 1_200),
            convert("c-2", "r-1", "bizen-pt", "bizen-v", 1_200),
            convert("c-3", "r-1", "myna-pt", "bizen-pt", 1),
            grant_at_place("h-1", "2026-11-26T09:00:00+09:00", "r-1", "gym"),
        ]
    };
    let mut first = bizen();
    let answers: Vec<Value> = story().into_iter().map(|event| first.one(event)).collect();
    let mut second = bizen();
    let again: Vec<Value> = story().into_iter().map(|event| second.one(event)).collect();
    assert_eq!(answers, again);
    assert_eq!(first.digest(), second.digest());
    let repeated: Vec<Value> = story().into_iter().map(|event| first.one(event)).collect();
    assert_eq!(repeated, answers, "an id answers the same the second time");
}
