//! The shop statement (`kanjo report shops`): per shop, local day and asset, sales, fees, refunds
//! and net, worked out by hand on the programme of spec/purchases-example (`books`: SUZU and JPY
//! 50 bp; `taxi`: transport, SUZU 50 bp; `bus-pt` points only at transport shops).
//!
//! Rider r-1 holds JPY 5000, SUZU 3000, muro-pt 500 and bus-pt 400.
//!
//! 26 Nov (Tokyo):
//! - p-1 buys ¥1200 at books: muro-pt 500 (no fee), SUZU 700 (fee ⌊700 × 50 / 10 000⌋ = 3).
//! - a-1 holds ¥1000 at taxi: bus-pt 400, SUZU 600. c-1 captures 700 of it: bus-pt 400,
//!   SUZU 300 (fee ⌊300 × 0.005⌋ = 1); SUZU 300 is released.
//! - a-2 holds ¥100 at books and v-2 voids it: a hold that never paid is no sale.
//!
//! 27 Nov (00:30 Tokyo, still 26 Nov in UTC: the day is the programme's local day):
//! - rf-1 refunds 600 of p-1: from the SUZU part (paid last, refunded first), which keeps 100 and
//!   owes ⌊100 × 0.005⌋ = 0, so books gets its fee of 3 back.
//! - p-2 buys ¥2000 at books paying JPY only: fee ⌊2000 × 0.005⌋ = 10.

mod shops_common;

use kanjo_core::report::{ShopReport, shop_report, shops_to_text};
use shops_common::*;

const NEXT_DAY_0030: &str = "2026-11-26T15:30:00Z";

fn the_two_days() -> Town {
    let mut town = Town::example();
    let answers = town.batch(&[
        topup("t-1", "09:00", "r-1", "JPY", 5000),
        topup("t-2", "09:00", "r-1", "SUZU", 3000),
        grant("g-1", "09:00", "r-1", "muro-pt", 500),
        grant("g-2", "09:00", "r-1", "bus-pt", 400),
        purchase("p-1", "09:10", "books", "r-1", 1200),
        authorize("a-1", "10:00", "taxi", "r-1", 1000),
        capture("c-1", "10:05", "a-1", 700),
        authorize("a-2", "11:00", "books", "r-1", 100),
        void("v-2", "11:01", "a-2"),
    ]);
    for answer in &answers {
        assert_eq!(answer["status"], "accepted", "{answer}");
    }
    let next_day = |json: String| json.replace(&at("09:00"), NEXT_DAY_0030);
    let answers = town.batch(&[
        next_day(refund("rf-1", "09:00", "p-1", 600)),
        next_day(purchase_with(
            "p-2",
            "09:00",
            "books",
            "r-1",
            2000,
            &["JPY"],
        )),
    ]);
    for answer in &answers {
        assert_eq!(answer["status"], "accepted", "{answer}");
    }
    town
}

/// (shop, date, asset, sales, fees, refunds, net, payments, refunds)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    u128,
    i128,
    u128,
    i128,
    u64,
    u64,
);

/// A `Row` as the report has it.
type OwnedRow = (String, String, String, u128, i128, u128, i128, u64, u64);

fn rows(report: &ShopReport) -> Vec<OwnedRow> {
    report
        .days
        .iter()
        .map(|day| {
            (
                day.shop.clone(),
                day.date.clone(),
                day.asset.clone(),
                day.sales_minor,
                day.fees_minor,
                day.refunds_minor,
                day.net_minor,
                day.payments,
                day.refunds,
            )
        })
        .collect()
}

#[test]
fn each_shop_day_and_asset_shows_sales_fees_refunds_and_net_as_worked_out_by_hand() {
    let town = the_two_days();
    let report = shop_report(&town.machine);
    let expected: [Row; 6] = [
        ("books", "2026-11-26", "SUZU", 700, 3, 0, 697, 1, 0),
        ("books", "2026-11-26", "muro-pt", 500, 0, 0, 500, 1, 0),
        ("books", "2026-11-27", "JPY", 2000, 10, 0, 1990, 1, 0),
        ("books", "2026-11-27", "SUZU", 0, -3, 600, -597, 0, 1),
        ("taxi", "2026-11-26", "SUZU", 300, 1, 0, 299, 1, 0),
        ("taxi", "2026-11-26", "bus-pt", 400, 0, 0, 400, 1, 0),
    ];
    let expected: Vec<OwnedRow> = expected
        .iter()
        .map(|row| {
            (
                row.0.to_owned(),
                row.1.to_owned(),
                row.2.to_owned(),
                row.3,
                row.4,
                row.5,
                row.6,
                row.7,
                row.8,
            )
        })
        .collect();
    assert_eq!(rows(&report), expected);
    assert!(report.days.iter().all(|day| !day.shop_name.is_empty()));
    assert_eq!(report.days[0].shop_name, "室蘭書店");
}

#[test]
fn the_totals_per_asset_add_up_the_days() {
    let report = shop_report(&the_two_days().machine);
    let totals: Vec<(&str, u128, i128, u128, i128)> = report
        .totals
        .iter()
        .map(|total| {
            (
                total.asset.as_str(),
                total.sales_minor,
                total.fees_minor,
                total.refunds_minor,
                total.net_minor,
            )
        })
        .collect();
    assert_eq!(
        totals,
        [
            ("JPY", 2000, 10, 0, 1990),
            ("SUZU", 1000, 1, 600, 399),
            ("bus-pt", 400, 0, 0, 400),
            ("muro-pt", 500, 0, 0, 500),
        ]
    );
}

#[test]
fn a_shops_net_over_the_days_is_its_account_balance_and_the_fees_are_the_fee_account() {
    let town = the_two_days();
    let report = shop_report(&town.machine);
    for shop in ["books", "taxi"] {
        for asset in ["JPY", "SUZU", "bus-pt", "muro-pt"] {
            let net: i128 = report
                .days
                .iter()
                .filter(|day| day.shop == shop && day.asset == asset)
                .map(|day| day.net_minor)
                .sum();
            assert_eq!(
                net,
                town.balance(&format!("shop:{shop}:{asset}")),
                "{shop} {asset}"
            );
        }
    }
    for total in &report.totals {
        assert_eq!(
            total.fees_minor,
            town.balance(&format!("fees:{}", total.asset)),
            "{}",
            total.asset
        );
    }
}

#[test]
fn refused_payments_change_no_line() {
    let mut town = the_two_days();
    let before = shop_report(&town.machine);
    let answers = town.batch(&[
        purchase("p-9", "12:00", "books", "r-1", 1_000_000),
        refund("rf-9", "12:00", "p-1", 1_000),
        capture("c-9", "12:00", "a-1", 10),
    ]);
    assert_eq!(refused(&answers[0]), "insufficient_funds");
    assert_eq!(refused(&answers[1]), "refund_exceeds_purchase");
    assert_eq!(refused(&answers[2]), "already_captured");
    assert_eq!(shop_report(&town.machine), before);
}

#[test]
fn the_clerks_table_has_japanese_column_labels_and_a_line_per_shop_day_and_asset() {
    let text = shops_to_text(&shop_report(&the_two_days().machine));
    let header = text.lines().next().expect("a header");
    for label in ["店舗", "日付", "資産", "売上", "手数料", "返金", "純額"] {
        assert!(header.contains(label), "{header}");
    }
    let books_refund_day = text
        .lines()
        .find(|line| {
            line.starts_with("books") && line.contains("2026-11-27") && line.contains("SUZU")
        })
        .expect("the refund day's line");
    let numbers: Vec<&str> = books_refund_day.split_whitespace().collect();
    assert_eq!(
        &numbers[3..8],
        ["0", "0", "-3", "600", "-597"],
        "{books_refund_day}"
    );
    assert_eq!(
        text.lines().filter(|line| line.starts_with("合計")).count(),
        4
    );
}
