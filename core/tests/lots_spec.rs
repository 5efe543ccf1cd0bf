//! Point lots and expiry (issue 9), one test per rule, on the machine alone. 更別 grants
//! `sarabetsu-pt`, which lapses 30 days after each grant, and `fy-pt`, which lapses after
//! 31 March 23:59:59 JST of the fiscal year it was granted in; `plain-pt` never lapses.

mod shops_common;

use kanjo_core::machine::{Lot, MachineConfig, NEVER_NS};
use serde_json::Value;
use shops_common::*;

const PROGRAMME: &str = r#"
[town]
code = "016365"
name = "更別村"
timezone = "Asia/Tokyo"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "sarabetsu-pt"
kind = "points"
expires_after_days = 30

[[assets]]
code = "fy-pt"
kind = "points"
expires = "fiscal_year_end"
transferable = true

[[assets]]
code = "plain-pt"
kind = "points"

[[assets]]
code = "SUZU"
kind = "stablecoin"
issuer = "hokkoku-bank"

[[shops]]
id = "grocer"
name = "更別食品"
name_kana = "ｻﾗﾍﾞﾂｼﾖｸﾋﾝ"
categories = ["grocery"]
"#;

fn sarabetsu() -> Town {
    Town::from_toml(&example_programme(), PROGRAMME, MachineConfig::default())
}

fn grant_at(id: &str, at: &str, rider: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"grant","at":"{at}","rider":"{rider}","asset":"{asset}","amount":{amount}}}"#
    )
}

fn spend_at(id: &str, at: &str, rider: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"purchase","at":"{at}","shop":"grocer","rider":"{rider}","amount":{amount},"pay_with":["{asset}"]}}"#
    )
}

fn refund_at(id: &str, at: &str, purchase: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"refund","at":"{at}","purchase":"{purchase}","amount":{amount}}}"#
    )
}

fn ns(at: &str) -> i128 {
    at.parse::<jiff::Timestamp>().unwrap().as_nanosecond()
}

fn accepted(answer: Value) -> Value {
    assert_eq!(answer["status"], "accepted", "{answer}");
    answer
}

fn lots(town: &Town, rider: &str, asset: &str) -> Vec<(u64, i128)> {
    town.machine
        .lots(rider, asset)
        .expect("a known asset")
        .iter()
        .map(|lot: &Lot| (lot.left_minor, lot.ends_ns))
        .collect()
}

const DAY_0: &str = "2026-05-01T10:00:00+09:00";
const DAY_0_PLUS_30: &str = "2026-05-31T10:00:00+09:00";
const DAY_0_PLUS_30_LESS_1S: &str = "2026-05-31T09:59:59+09:00";

#[test]
fn spending_takes_the_earliest_ending_lot_first() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at("g-1", DAY_0, "r-1", "sarabetsu-pt", 100)));
    accepted(town.one(grant_at(
        "g-2",
        "2026-05-05T10:00:00+09:00",
        "r-1",
        "sarabetsu-pt",
        100,
    )));
    accepted(town.one(spend_at(
        "p-1",
        "2026-05-06T10:00:00+09:00",
        "r-1",
        "sarabetsu-pt",
        150,
    )));
    assert_eq!(
        lots(&town, "r-1", "sarabetsu-pt"),
        vec![(50, ns("2026-06-04T10:00:00+09:00"))],
        "the 1 May lot is spent whole, then half of the 5 May lot"
    );
}

#[test]
fn a_lot_pays_in_its_last_second_and_lapses_at_its_end() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at("g-1", DAY_0, "r-1", "sarabetsu-pt", 100)));
    accepted(town.one(spend_at(
        "p-1",
        DAY_0_PLUS_30_LESS_1S,
        "r-1",
        "sarabetsu-pt",
        10,
    )));
    assert_eq!(town.balance("expired:sarabetsu-pt"), 0);
    let answer = town.one(spend_at("p-2", DAY_0_PLUS_30, "r-1", "sarabetsu-pt", 10));
    assert_eq!(refused(&answer), "insufficient_funds");
    assert_eq!(town.balance("rider:r-1:sarabetsu-pt"), 0);
    assert_eq!(
        town.balance("expired:sarabetsu-pt"),
        90,
        "what was left moved to breakage"
    );
    assert!(
        lots(&town, "r-1", "sarabetsu-pt").is_empty(),
        "a lapsed lot is dropped"
    );
}

#[test]
fn fiscal_year_points_pay_on_31_march_23_59_59_and_lapse_on_1_april_00_00_00_jst() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at(
        "g-1",
        "2025-06-01T10:00:00+09:00",
        "r-1",
        "fy-pt",
        100,
    )));
    assert_eq!(
        lots(&town, "r-1", "fy-pt"),
        vec![(100, ns("2026-04-01T00:00:00+09:00"))]
    );
    accepted(town.one(spend_at(
        "p-1",
        "2026-03-31T23:59:59+09:00",
        "r-1",
        "fy-pt",
        30,
    )));
    let answer = town.one(spend_at(
        "p-2",
        "2026-04-01T00:00:00+09:00",
        "r-1",
        "fy-pt",
        30,
    ));
    assert_eq!(refused(&answer), "insufficient_funds");
    assert_eq!(town.balance("expired:fy-pt"), 70);
}

#[test]
fn a_grant_in_january_to_march_lapses_at_the_end_of_that_same_fiscal_year() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at(
        "g-1",
        "2026-03-31T23:59:59+09:00",
        "r-1",
        "fy-pt",
        5,
    )));
    assert_eq!(
        lots(&town, "r-1", "fy-pt"),
        vec![(5, ns("2026-04-01T00:00:00+09:00"))],
        "a grant in its fiscal year's last second lapses a second later"
    );
    accepted(town.one(grant_at(
        "g-2",
        "2026-04-01T00:00:00+09:00",
        "r-1",
        "fy-pt",
        7,
    )));
    assert_eq!(
        lots(&town, "r-1", "fy-pt"),
        vec![(7, ns("2027-04-01T00:00:00+09:00"))],
        "a grant in the new year's first second lives a year"
    );
    assert_eq!(town.balance("expired:fy-pt"), 5);
}

#[test]
fn a_refund_gives_back_to_living_lots_and_to_breakage_for_lapsed_ones() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at("g-1", DAY_0, "r-1", "sarabetsu-pt", 100)));
    accepted(town.one(grant_at(
        "g-2",
        "2026-05-21T10:00:00+09:00",
        "r-1",
        "sarabetsu-pt",
        100,
    )));
    accepted(town.one(spend_at(
        "p-1",
        "2026-05-26T10:00:00+09:00",
        "r-1",
        "sarabetsu-pt",
        150,
    )));
    // 1 June: the 1 May lot (ending 31 May) has lapsed; the 21 May lot lives until 20 June.
    accepted(town.one(refund_at("f-1", "2026-06-01T10:00:00+09:00", "p-1", 150)));
    assert_eq!(
        lots(&town, "r-1", "sarabetsu-pt"),
        vec![(100, ns("2026-06-20T10:00:00+09:00"))],
        "the 50 taken from the 21 May lot go back to it"
    );
    assert_eq!(town.balance("rider:r-1:sarabetsu-pt"), 100);
    assert_eq!(
        town.balance("expired:sarabetsu-pt"),
        100,
        "the 100 taken from the lapsed lot go to breakage, not to the rider"
    );
    assert_eq!(town.balance("shop:grocer:sarabetsu-pt"), 0);
    // The shop statement counts the whole 150 as refunded, the lapsed part too, so its net still
    // equals the shop account.
    let statement = kanjo_core::report::shop_report(&town.machine);
    let total = statement
        .totals
        .iter()
        .find(|total| total.asset == "sarabetsu-pt")
        .expect("the shop was paid in sarabetsu-pt");
    assert_eq!((total.sales_minor, total.refunds_minor), (150, 150));
    assert_eq!(total.net_minor, 0, "net = the shop account's balance");
}

#[test]
fn a_refund_before_the_end_restores_the_lot_with_its_end() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at("g-1", DAY_0, "r-1", "sarabetsu-pt", 100)));
    accepted(town.one(spend_at(
        "p-1",
        "2026-05-02T10:00:00+09:00",
        "r-1",
        "sarabetsu-pt",
        60,
    )));
    accepted(town.one(refund_at("f-1", "2026-05-03T10:00:00+09:00", "p-1", 20)));
    assert_eq!(
        lots(&town, "r-1", "sarabetsu-pt"),
        vec![(60, ns(DAY_0_PLUS_30))],
        "the refund did not make a fresh 30 days"
    );
}

#[test]
fn a_send_carries_the_senders_lots_and_their_ends() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at(
        "g-1",
        "2025-06-01T10:00:00+09:00",
        "r-1",
        "fy-pt",
        100,
    )));
    let send = r#"{"id":"s-1","type":"send","at":"2026-03-02T10:00:00+09:00","from":"r-1","to":"r-2","asset":"fy-pt","amount":40}"#;
    accepted(town.one(send.to_owned()));
    assert_eq!(
        lots(&town, "r-2", "fy-pt"),
        vec![(40, ns("2026-04-01T00:00:00+09:00"))]
    );
    let late = r#"{"id":"s-2","type":"send","at":"2026-04-01T00:00:00+09:00","from":"r-2","to":"r-1","asset":"fy-pt","amount":1}"#;
    assert_eq!(refused(&town.one(late.to_owned())), "insufficient_funds");
    assert_eq!(
        town.balance("expired:fy-pt"),
        100,
        "both riders' parts lapsed"
    );
}

#[test]
fn points_without_a_rule_never_lapse_and_open_no_breakage_account() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at(
        "g-1",
        "2025-06-01T10:00:00+09:00",
        "r-1",
        "plain-pt",
        100,
    )));
    accepted(town.one(grant_at(
        "g-2",
        "2026-12-01T10:00:00+09:00",
        "r-1",
        "plain-pt",
        5,
    )));
    town.machine.expire_lots();
    assert_eq!(lots(&town, "r-1", "plain-pt"), vec![(105, NEVER_NS)]);
    let expired = kanjo_core::chart::AccountName::Expired { asset: "plain-pt" }.id();
    assert!(town.machine.ledger().account(expired).is_none());
}

#[test]
fn any_later_event_sweeps_lapsed_lots_of_every_rider() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at("g-1", DAY_0, "r-1", "sarabetsu-pt", 100)));
    accepted(town.one(grant_at("g-x", DAY_0_PLUS_30, "r-2", "plain-pt", 1)));
    assert_eq!(town.balance("expired:sarabetsu-pt"), 100);
    assert_eq!(town.machine.expire_lots(), 0, "swept once");
}

fn story() -> Vec<String> {
    vec![
        grant_at("g-1", DAY_0, "r-1", "sarabetsu-pt", 100),
        grant_at(
            "g-2",
            "2026-05-21T10:00:00+09:00",
            "r-1",
            "sarabetsu-pt",
            100,
        ),
        spend_at(
            "p-1",
            "2026-05-26T10:00:00+09:00",
            "r-1",
            "sarabetsu-pt",
            150,
        ),
        grant_at("g-3", "2025-06-01T10:00:00+09:00", "r-2", "fy-pt", 100),
        refund_at("f-1", "2026-06-01T10:00:00+09:00", "p-1", 150),
        grant_at("g-4", "2026-06-25T10:00:00+09:00", "r-2", "fy-pt", 3),
    ]
}

#[test]
fn replay_gives_the_same_answers_and_the_same_digest() {
    let mut first = sarabetsu();
    let answers: Vec<Value> = story().into_iter().map(|event| first.one(event)).collect();
    let mut second = sarabetsu();
    let again: Vec<Value> = story().into_iter().map(|event| second.one(event)).collect();
    assert_eq!(answers, again);
    assert_eq!(first.digest(), second.digest());
    assert_eq!(first.balance("expired:fy-pt"), 100);
    assert_eq!(
        lots(&first, "r-1", "sarabetsu-pt"),
        lots(&second, "r-1", "sarabetsu-pt")
    );
    let before = first.digest();
    let repeated: Vec<Value> = story().into_iter().map(|event| first.one(event)).collect();
    assert_eq!(repeated, answers, "the same ids answer the same");
    assert_eq!(first.digest(), before, "and move nothing");
}

#[test]
fn expiry_rules_are_checked_at_load() {
    let load = |terms: &str, kind: &str| {
        let text = format!(
            "[[assets]]\ncode = \"JPY\"\nkind = \"yen\"\n\n[[assets]]\ncode = \"x\"\nkind = \"{kind}\"\n{terms}\n"
        );
        let section: kanjo_core::chart::AssetSection = toml::from_str(&text).unwrap();
        kanjo_core::chart::AssetBook::from_section("test", section, &[])
    };
    assert!(load("expires_after_days = 30", "points").is_ok());
    assert!(load("expires = \"fiscal_year_end\"", "points").is_ok());
    for (terms, kind) in [
        ("expires_after_days = 0", "points"),
        ("expires = \"year_end\"", "points"),
        (
            "expires_after_days = 30\nexpires = \"fiscal_year_end\"",
            "points",
        ),
        ("expires_after_days = 30", "stablecoin"),
    ] {
        assert!(load(terms, kind).is_err(), "{terms} on {kind} is refused");
    }
}

#[test]
fn the_expiry_report_sums_what_lapses_per_last_usable_day() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at(
        "g-1",
        "2025-06-01T10:00:00+09:00",
        "r-1",
        "fy-pt",
        100,
    )));
    accepted(town.one(grant_at(
        "g-2",
        "2025-07-01T10:00:00+09:00",
        "r-2",
        "fy-pt",
        20,
    )));
    accepted(town.one(grant_at(
        "g-3",
        "2026-03-10T10:00:00+09:00",
        "r-1",
        "sarabetsu-pt",
        5,
    )));
    let from: jiff::Timestamp = "2026-03-20T00:00:00+09:00".parse().unwrap();
    let report = kanjo_core::expiry::expiry_report(&town.machine, "fy-pt", from, 12).unwrap();
    assert_eq!(report.total_minor, 120);
    assert_eq!(report.days.len(), 1);
    assert_eq!(
        report.days[0].last_day, "2026-03-31",
        "the last day they pay, in JST"
    );
    let short = kanjo_core::expiry::expiry_report(&town.machine, "fy-pt", from, 11).unwrap();
    assert_eq!(
        short.total_minor, 0,
        "1 April 00:00 is past 11 days from 20 March"
    );
    let other = kanjo_core::expiry::expiry_report(&town.machine, "sarabetsu-pt", from, 30).unwrap();
    assert_eq!(other.days[0].last_day, "2026-04-09");
    assert_eq!(other.total_minor, 5);
    assert!(kanjo_core::expiry::expiry_report(&town.machine, "nope", from, 5).is_err());
}

/// Event times at the ends of jiff's calendar (a grant in fiscal year 9999, whose end jiff can't
/// name; a purchase dated before year 1, whose day has no stamp) are answered, and the machine
/// goes on with ordinary events.
#[test]
fn events_dated_at_the_ends_of_the_calendar_never_stop_the_machine() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at(
        "far-future",
        "9999-05-01T10:00:00+09:00",
        "r-1",
        "fy-pt",
        10,
    )));
    let past = town.one(spend_at(
        "far-past",
        "-000001-05-01T10:00:00+09:00",
        "r-1",
        "fy-pt",
        5,
    ));
    assert!(past["status"].is_string(), "{past}");
    accepted(town.one(grant_at("g-1", DAY_0, "r-2", "fy-pt", 100)));
    accepted(town.one(spend_at("p-1", DAY_0, "r-2", "fy-pt", 40)));
    assert_eq!(town.balance("rider:r-2:fy-pt"), 60);
}

/// A refund the ledger refuses (the shop already redeemed the coins it would give back) changes
/// nothing: when it succeeds later, after the points' lot lapsed, those points still go to
/// breakage, not to the rider.
#[test]
fn a_refused_refund_leaves_the_lots_it_would_have_given_back() {
    let mut town = sarabetsu();
    accepted(town.one(grant_at(
        "g-1",
        "2027-03-01T10:00:00+09:00",
        "r-1",
        "fy-pt",
        50,
    )));
    accepted(town.one(r#"{"id":"t-1","type":"topup","at":"2027-03-01T10:00:00+09:00","rider":"r-1","asset":"SUZU","amount":50,"source":"hokkoku-bank"}"#.into()));
    accepted(town.one(r#"{"id":"p-1","type":"purchase","at":"2027-03-02T10:00:00+09:00","shop":"grocer","rider":"r-1","amount":100,"pay_with":["SUZU","fy-pt"]}"#.into()));
    accepted(town.one(r#"{"id":"w-1","type":"withdraw","at":"2027-03-03T10:00:00+09:00","shop":"grocer","asset":"SUZU","amount":50}"#.into()));
    let refused = town.one(refund_at("f-1", "2027-03-04T10:00:00+09:00", "p-1", 100));
    assert_eq!(refused["status"], "rejected", "{refused}");
    // April: the fy-pt lot has lapsed; the shop is paid in SUZU again and can refund.
    accepted(town.one(r#"{"id":"t-2","type":"topup","at":"2027-04-02T10:00:00+09:00","rider":"r-2","asset":"SUZU","amount":50,"source":"hokkoku-bank"}"#.into()));
    accepted(town.one(r#"{"id":"p-2","type":"purchase","at":"2027-04-02T11:00:00+09:00","shop":"grocer","rider":"r-2","amount":50,"pay_with":["SUZU"]}"#.into()));
    accepted(town.one(refund_at("f-2", "2027-04-03T10:00:00+09:00", "p-1", 100)));
    assert_eq!(
        town.balance("rider:r-1:fy-pt"),
        0,
        "lapsed points never go back"
    );
    assert_eq!(town.balance("expired:fy-pt"), 50);
    assert_eq!(town.balance("rider:r-1:SUZU"), 50);
}

/// A purchase remembers at most 64 lot slices for its refunds; the rest join the 64th, dated by
/// the earliest of them. A refund after every one has lapsed gives nothing back to the rider.
#[test]
fn a_purchase_across_more_than_64_lots_never_revives_lapsed_points_on_refund() {
    let mut town = sarabetsu();
    let grants: Vec<String> = (0..70)
        .map(|minute| {
            let at = format!("2026-05-01T10:{:02}:00+09:00", minute % 60);
            let at = if minute < 60 {
                at
            } else {
                at.replace("T10:", "T11:")
            };
            grant_at(&format!("g-{minute}"), &at, "r-1", "sarabetsu-pt", 10)
        })
        .collect();
    for answer in town.batch(&grants) {
        accepted(answer);
    }
    assert_eq!(
        lots(&town, "r-1", "sarabetsu-pt").len(),
        70,
        "70 lots, 70 ends"
    );
    accepted(town.one(spend_at(
        "p-1",
        "2026-05-02T10:00:00+09:00",
        "r-1",
        "sarabetsu-pt",
        700,
    )));
    // 1 July: every lot (ending 31 May) has lapsed.
    accepted(town.one(refund_at("f-1", "2026-07-01T10:00:00+09:00", "p-1", 700)));
    assert_eq!(
        town.balance("rider:r-1:sarabetsu-pt"),
        0,
        "nothing lapsed comes back"
    );
    assert_eq!(town.balance("expired:sarabetsu-pt"), 700);
    assert!(lots(&town, "r-1", "sarabetsu-pt").is_empty());
}
