//! Statements per party and settlement (issue 10): what the settlement took, per day, checked
//! against the ledger when made; CSV with a BOM for Excel.

mod settlement_common;

use kanjo_core::report::statement::statement;
use settlement_common::*;

#[test]
fn a_shop_statement_lists_its_days_and_lines_and_its_net_payable_equals_the_ledgers() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let made = statement(&town.machine, "settle-2026-11-30", "shop:muroran-shoten").expect("made");
    assert_eq!(made.party_name, "室蘭書店");
    assert_eq!(made.period_from, None);
    let jpy_day = made
        .shop_days
        .iter()
        .find(|day| day.asset == "JPY")
        .expect("a yen day");
    assert_eq!(
        (jpy_day.sales_minor, jpy_day.fees_minor, jpy_day.net_minor),
        (1000, 5, 995)
    );
    let payables: Vec<(&str, u64)> = made
        .payables
        .iter()
        .map(|p| (p.asset.as_str(), p.net_payable_minor))
        .collect();
    assert_eq!(payables, vec![("JPY", 995), ("muro-pt", 300)]);
}

#[test]
fn an_operator_statement_shows_its_rides_and_subsidy_by_budget() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let made = statement(&town.machine, "settle-2026-11-30", "operator:donan-bus").expect("made");
    assert_eq!(made.operator_days.len(), 1);
    assert_eq!(made.operator_days[0].rides, 1);
    assert_eq!(made.operator_days[0].subsidy_due["transit-subsidy"], 330);
    assert_eq!(made.payables[0].net_payable_minor, 330);
}

#[test]
fn late_events_never_change_a_closed_statement_and_appear_as_adjustments_in_the_next() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let closed = statement(&town.machine, "settle-2026-11-30", "operator:donan-bus").expect("made");
    town.events(&[senior_ride("r-late", "2026-11-29T08:00:00+09:00")]);
    town.settle("2026-12-31").expect("settled");
    let lines_then = statement(&town.machine, "settle-2026-11-30", "operator:donan-bus")
        .expect("made")
        .lines;
    assert_eq!(lines_then, closed.lines);
    assert_eq!(
        statement(&town.machine, "settle-2026-11-30", "operator:donan-bus")
            .expect("made")
            .payables,
        closed.payables
    );
    let next = statement(&town.machine, "settle-2026-12-31", "operator:donan-bus").expect("made");
    assert_eq!(next.period_from.as_deref(), Some("2026-12-01"));
    assert_eq!(next.lines.len(), 1);
    assert!(next.lines[0].adjustment);
    assert_eq!(next.lines[0].day, "2026-11-29");
}

#[test]
fn the_csv_starts_with_a_bom_uses_japanese_labels_and_ends_with_the_totals() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let made = statement(&town.machine, "settle-2026-11-30", "shop:muroran-shoten").expect("made");
    let csv = made.to_csv();
    assert!(csv.starts_with(
        "\u{feff}相手先 party,区分 section,日付 date,資産 asset,項目 item,金額 amount\r\n"
    ));
    assert!(csv.contains("shop:muroran-shoten,店舗日 shop day,2026-11-27,JPY,純額 net,995\r\n"));
    assert!(csv.contains("shop:muroran-shoten,購入 purchases,,muro-pt,売上 sales,300\r\n"));
    assert!(csv.ends_with(
        "合計 total,,muro-pt,支払予定額 net payable,300\r\nshop:muroran-shoten,合計 total,,muro-pt,支払済額 paid,0\r\n"
    ));
    assert!(!csv.contains("\n\n") && csv.matches('\n').count() == csv.matches("\r\n").count());
}

fn ride(id: &str, at: &str, rider: Option<&str>, media: &str) -> String {
    let rider = rider.map_or_else(String::new, |r| format!(r#""rider":"{r}","#));
    format!(
        r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B",{rider}"media":"{media}"}}"#
    )
}

/// November plus, on the 28th, four resident rides (the fourth hits the ¥600 day cap) and
/// one anonymous cash ride.
fn november_with_classes(town: &mut Town) {
    november(town);
    let mut events: Vec<String> = (1..=4)
        .map(|n| {
            let at = format!("2026-11-28T0{n}:00:00+09:00");
            ride(&format!("a-{n}"), &at, Some("adult"), "wallet")
        })
        .collect();
    events.push(ride("anon-1", "2026-11-28T09:00:00+09:00", None, "cash"));
    town.events(&events);
}

#[test]
fn rides_by_class_and_by_rule_each_sum_to_the_ride_totals() {
    let mut town = Town::new();
    november_with_classes(&mut town);
    town.settle("2026-11-30").expect("settled");
    let made = statement(&town.machine, "settle-2026-11-30", "operator:donan-bus").expect("made");
    let rides = made.rides.as_ref().expect("an operator has rides");
    assert_eq!(rides.totals.rides, 6);
    let classes: Vec<(&str, u64, u64)> = rides
        .by_class
        .iter()
        .map(|b| (b.key.as_str(), b.sums.rides, b.sums.discount))
        .collect();
    assert_eq!(
        classes,
        vec![
            ("general", 1, 0),
            ("resident-200", 4, 4 * 130),
            ("senior-free", 1, 330)
        ]
    );
    let rules: Vec<(&str, u64, u64)> = rides
        .by_rule
        .iter()
        .map(|b| (b.key.as_str(), b.sums.rides, b.sums.cap_waived))
        .collect();
    assert_eq!(
        rules,
        vec![
            ("none", 1, 0),
            ("resident-200", 3, 0),
            ("resident-200+day-cap", 1, 200),
            ("senior-free", 1, 0),
        ]
    );
    for breakdown in [&rides.by_class, &rides.by_rule] {
        let mut sums = kanjo_core::report::classes::RideSums::default();
        breakdown.iter().for_each(|b| sums.add(&b.sums));
        assert_eq!(sums, rides.totals);
    }
    assert_eq!(
        rides.totals.fares,
        rides.totals.rider_pays + rides.totals.discount + rides.totals.cap_waived
    );
    assert_eq!(rides.paid_wallet, 600);
    assert_eq!(rides.paid_cash, 330);
    assert_eq!(rides.discounts_by_budget["transit-subsidy"], 330 + 4 * 130);
    let net: i128 = made.lines.iter().map(|line| line.amount_minor).sum();
    assert_eq!(net, i128::from(made.payables[0].net_payable_minor));
    assert_eq!(net, 330 + 4 * 130);
}

#[test]
fn a_late_ride_changes_nothing_in_the_closed_statement() {
    let mut town = Town::new();
    november_with_classes(&mut town);
    town.settle("2026-11-30").expect("settled");
    let closed = statement(&town.machine, "settle-2026-11-30", "operator:donan-bus").expect("made");
    town.events(&[ride(
        "late-1",
        "2026-11-28T10:00:00+09:00",
        Some("senior"),
        "cash",
    )]);
    let after = statement(&town.machine, "settle-2026-11-30", "operator:donan-bus").expect("made");
    assert_eq!(after, closed);
    town.settle("2026-12-31").expect("settled");
    let next = statement(&town.machine, "settle-2026-12-31", "operator:donan-bus").expect("made");
    let adjustment = &next.lines[0];
    assert!(adjustment.adjustment);
    assert_eq!(
        (adjustment.day.as_str(), adjustment.amount_minor),
        ("2026-11-28", 330)
    );
    // December had no rides of its own: the late ride is an adjustment, not a December ride.
    assert_eq!(next.rides.expect("rides").totals.rides, 0);
}

#[test]
fn every_party_of_a_settlement_has_a_statement_in_one_csv() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let all = kanjo_core::report::statement::statements(&town.machine, "settle-2026-11-30")
        .expect("made");
    let parties: Vec<&str> = all.iter().map(|s| s.party.as_str()).collect();
    assert_eq!(parties, vec!["operator:donan-bus", "shop:muroran-shoten"]);
    let csv = kanjo_core::report::statement::statements_csv(&all);
    assert_eq!(csv.matches('\u{feff}').count(), 1);
    assert!(csv.contains("\r\noperator:donan-bus,合計 total,,JPY,支払予定額 net payable,330\r\n"));
}

#[test]
fn a_party_the_settlement_did_not_touch_has_no_statement() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    assert!(statement(&town.machine, "settle-2026-11-30", "shop:yakitori-ippei").is_err());
    assert!(statement(&town.machine, "settle-2026-10-31", "shop:muroran-shoten").is_err());
}

/// The statement reads what a settlement moved from the payable account's own history, a page
/// (8 190 transfers) at a time: a settlement after more payouts than one page still agrees.
#[test]
fn a_statement_finds_its_settlement_behind_more_than_a_page_of_payouts() {
    let mut town = Town::new();
    november(&mut town);
    town.events(&[
        topup("t-big", "2026-11-28T09:00:00+09:00", "adult", "JPY", 30_000),
        purchase(
            "p-big",
            "2026-11-28T12:00:00+09:00",
            "muroran-shoten",
            20_000,
            "JPY",
        ),
    ]);
    town.settle("2026-11-30").expect("settled");
    for n in 0..8_300 {
        let id = format!("po-{n}");
        town.payout(&pay(
            &id,
            "settle-2026-11-30",
            "shop:muroran-shoten",
            "JPY",
            1,
        ))
        .expect("a yen of the payable");
    }
    town.events(&[purchase(
        "p-dec",
        "2026-12-02T12:00:00+09:00",
        "muroran-shoten",
        2_000,
        "JPY",
    )]);
    town.settle("2026-12-31").expect("settled");

    let made = statement(&town.machine, "settle-2026-12-31", "shop:muroran-shoten").expect("made");
    assert_eq!(made.payables[0].net_payable_minor, 1_990);
    let november =
        statement(&town.machine, "settle-2026-11-30", "shop:muroran-shoten").expect("made");
    assert_eq!(november.payables[0].paid_minor, 8_300);
}
