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
    assert!(csv.starts_with("\u{feff}区分,日付,資産,項目,金額\r\n"));
    assert!(csv.contains("店舗,2026-11-27,JPY,純額,995\r\n"));
    assert!(csv.ends_with("合計,,muro-pt,支払予定額,300\r\n合計,,muro-pt,支払済額,0\r\n"));
}

#[test]
fn a_party_the_settlement_did_not_touch_has_no_statement() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    assert!(statement(&town.machine, "settle-2026-11-30", "shop:yakitori-ippei").is_err());
    assert!(statement(&town.machine, "settle-2026-10-31", "shop:muroran-shoten").is_err());
}
