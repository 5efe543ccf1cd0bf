//! `kanjo report breakage` (issue 9): what lapsed to `expired:{asset}`, per fiscal year and asset.
//! A lapsed lot counts in the fiscal year of its last usable day, whenever the sweep ran; a refund
//! of points from a lapsed lot counts in the year of the refund.

mod shops_common;

use kanjo_core::breakage::{BreakageYear, breakage_report, fiscal_year_of};
use kanjo_core::machine::MachineConfig;
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

[[shops]]
id = "grocer"
name = "更別食品"
name_kana = "ｻﾗﾍﾞﾂｼﾖｸﾋﾝ"
categories = ["grocery"]
"#;

fn sarabetsu() -> Town {
    Town::from_toml(&example_programme(), PROGRAMME, MachineConfig::default())
}

fn grant_at(id: &str, at: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"grant","at":"{at}","rider":"r-1","asset":"{asset}","amount":{amount}}}"#
    )
}

fn spend_at(id: &str, at: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"purchase","at":"{at}","shop":"grocer","rider":"r-1","amount":{amount},"pay_with":["{asset}"]}}"#
    )
}

fn accepted(answer: Value) {
    assert_eq!(answer["status"], "accepted", "{answer}");
}

fn line(fiscal_year: i32, asset: &str, expired_minor: u128, refunded_minor: u128) -> BreakageYear {
    BreakageYear {
        fiscal_year,
        asset: asset.to_owned(),
        expired_minor,
        refunded_minor,
        total_minor: expired_minor + refunded_minor,
    }
}

/// FY2025 points lapse (swept on 2 April), one of their purchases is refunded in May, and a
/// 30-day grant of June lapses in July.
fn a_town_with_breakage() -> Town {
    let mut town = sarabetsu();
    accepted(town.one(grant_at("g-1", "2025-06-01T10:00:00+09:00", "fy-pt", 100)));
    accepted(town.one(spend_at("p-1", "2026-03-20T10:00:00+09:00", "fy-pt", 40)));
    let late = town.one(spend_at("p-2", "2026-04-02T10:00:00+09:00", "fy-pt", 10));
    assert_eq!(refused(&late), "insufficient_funds");
    let refund = r#"{"id":"rf-1","type":"refund","at":"2026-05-01T10:00:00+09:00","purchase":"p-1","amount":15}"#;
    accepted(town.one(refund.to_owned()));
    accepted(town.one(grant_at(
        "g-2",
        "2026-06-01T10:00:00+09:00",
        "sarabetsu-pt",
        50,
    )));
    let after = town.one(spend_at(
        "p-3",
        "2026-07-02T10:00:00+09:00",
        "sarabetsu-pt",
        1,
    ));
    assert_eq!(refused(&after), "insufficient_funds");
    town
}

#[test]
fn the_fiscal_year_runs_april_to_march_and_is_named_by_its_first_year() {
    assert_eq!(fiscal_year_of(2026, 3), 2025);
    assert_eq!(fiscal_year_of(2026, 4), 2026);
    assert_eq!(fiscal_year_of(2026, 12), 2026);
}

#[test]
fn breakage_is_counted_in_the_fiscal_year_the_points_lapsed_or_were_refunded_in() {
    let town = a_town_with_breakage();
    let report = breakage_report(&town.machine, None).expect("every asset");
    assert_eq!(
        report.years,
        vec![
            line(2025, "fy-pt", 60, 0),
            line(2026, "sarabetsu-pt", 50, 0),
            line(2026, "fy-pt", 0, 15),
        ],
        "the 60 left on 31 March are FY2025's though swept on 2 April; the May refund is FY2026's"
    );
    let booked: u128 = report.years.iter().map(|year| year.total_minor).sum();
    let on_the_books = town.balance("expired:fy-pt") + town.balance("expired:sarabetsu-pt");
    assert_eq!(
        booked as i128, on_the_books,
        "the report is what the breakage accounts hold"
    );
}

#[test]
fn one_asset_can_be_asked_for_and_an_unknown_one_is_an_error() {
    let town = a_town_with_breakage();
    let report = breakage_report(&town.machine, Some("sarabetsu-pt")).expect("a known asset");
    assert_eq!(report.years, vec![line(2026, "sarabetsu-pt", 50, 0)]);
    let none = breakage_report(&town.machine, Some("plain-pt")).expect("a known asset");
    assert!(none.years.is_empty(), "plain-pt never lapses");
    let error = breakage_report(&town.machine, Some("nope")).unwrap_err();
    assert!(error.contains("nope"), "{error}");
}

#[test]
fn the_text_report_has_the_clerks_labels() {
    let text = breakage_report(&a_town_with_breakage().machine, None)
        .expect("every asset")
        .to_text();
    for label in ["年度", "資産", "失効額"] {
        assert!(text.contains(label), "{label} in\n{text}");
    }
    assert!(text.contains("2025") && text.contains("60"), "{text}");
}
