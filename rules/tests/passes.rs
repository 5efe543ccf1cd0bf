//! Pass products (issue 13), the pure part: `[[passes]]` compiled, validity in local dates,
//! usage limits, route coverage, and which of several held passes a ride uses.

mod common;

use common::*;
use kanjo_rules::{
    HeldPass, LocalDate, PassPayment, PassRefusal, Programme, Validity, choose_pass,
};

const PASSES: &str = r#"
[[attributes]]
name = "tax_exempt_household"
type = "bool"

[[passes]]
id = "pupil-6m"
asset = "pupil-pass"
valid_months = 6
operators = ["town-bus"]
routes = ["coast"]
rides_per_day = 2
eligible = { school_stage = "junior_high" }
payment = "per_ride"
funded_by = "fund"
issue_limit = 12000

[[passes]]
id = "fy-free"
asset = "free-pass"
valid_from = 2026-04-01
valid_until = 2027-03-31
operators = ["town-bus", "coach"]
rides_total = 10
eligible = { has = "tax_exempt_household" }
per_person = 2
payment = "flat"
price = 5000
funded_by = "fund"

[[passes]]
id = "week"
asset = "week-pass"
valid_days = 7
operators = ["coach"]
payment = "per_ride"
funded_by = "fund"
"#;

fn programme_with_passes() -> Programme {
    programme(&format!("{HEADER}\n{PASSES}"))
}

fn day(text: &str) -> LocalDate {
    LocalDate::parse(text).expect("date")
}

fn held(first: &str, last: &str, today: u32, total: u32) -> HeldPass {
    HeldPass {
        first_day: day(first),
        last_day: day(last),
        rides_today: today,
        rides_total: total,
    }
}

#[test]
fn passes_compile_with_their_validity_limits_and_payment() {
    let p = programme_with_passes();
    assert_eq!(p.passes().len(), 3);
    let pupil = p.pass("pupil-6m").expect("declared");
    assert_eq!(pupil.validity, Validity::Months(6));
    assert_eq!(pupil.rides_per_day, Some(2));
    assert_eq!(pupil.issue_limit, Some(12_000));
    assert_eq!(pupil.per_person, 1, "one per person unless said otherwise");
    assert_eq!(pupil.payment, PassPayment::PerRide);
    let free = p.pass("fy-free").expect("declared");
    assert_eq!(free.payment, PassPayment::Flat { price_minor: 5000 });
    assert_eq!(free.per_person, 2);
    assert!(free.budget_for(day("2026-11-30")).is_some());
    assert!(
        free.budget_for(day("2031-04-01")).is_none(),
        "no budget for FY2031"
    );
}

#[test]
fn validity_gives_the_first_and_last_valid_local_day() {
    let issued = day("2026-04-10");
    assert_eq!(
        Validity::Days(7).days(issued),
        Some((issued, day("2026-04-16"))),
        "the issue day counts as the first of the seven"
    );
    assert_eq!(
        Validity::Months(6).days(issued),
        Some((issued, day("2026-10-09")))
    );
    assert_eq!(
        Validity::Months(6).days(day("2026-08-31")),
        Some((day("2026-08-31"), day("2027-02-27"))),
        "six months after 31 August is clamped to 28 February, so the day before is the last"
    );
    let fixed = Validity::Fixed {
        from: day("2026-04-01"),
        until: day("2027-03-31"),
    };
    assert_eq!(
        fixed.days(day("2026-11-30")),
        Some((day("2026-04-01"), day("2027-03-31")))
    );
}

#[test]
fn a_pass_covers_rides_from_its_first_to_its_last_valid_day() {
    let p = programme_with_passes();
    let week = p.pass("week").expect("declared");
    let pass = held("2026-04-10", "2026-04-16", 0, 0);
    assert_eq!(
        week.check_use(&pass, day("2026-04-09")),
        Err(PassRefusal::Expired)
    );
    assert_eq!(week.check_use(&pass, day("2026-04-10")), Ok(()));
    assert_eq!(week.check_use(&pass, day("2026-04-16")), Ok(()));
    assert_eq!(
        week.check_use(&pass, day("2026-04-17")),
        Err(PassRefusal::Expired)
    );
}

#[test]
fn the_daily_limit_takes_the_last_ride_and_refuses_the_one_that_crosses_it() {
    let p = programme_with_passes();
    let pupil = p.pass("pupil-6m").expect("declared");
    let on = day("2026-05-01");
    assert_eq!(
        pupil.check_use(&held("2026-04-10", "2026-10-09", 1, 40), on),
        Ok(()),
        "the second ride of the day"
    );
    assert_eq!(
        pupil.check_use(&held("2026-04-10", "2026-10-09", 2, 41), on),
        Err(PassRefusal::DailyLimit),
        "the third ride of the day"
    );
}

#[test]
fn the_total_limit_refuses_the_ride_after_the_last() {
    let p = programme_with_passes();
    let free = p.pass("fy-free").expect("declared");
    let on = day("2026-05-01");
    assert_eq!(
        free.check_use(&held("2026-04-01", "2027-03-31", 0, 9), on),
        Ok(())
    );
    assert_eq!(
        free.check_use(&held("2026-04-01", "2027-03-31", 0, 10), on),
        Err(PassRefusal::UsedUp)
    );
    assert_eq!(PassRefusal::UsedUp.code(), "pass_used_up");
    assert_eq!(PassRefusal::DailyLimit.code(), "pass_daily_limit");
    assert_eq!(PassRefusal::Expired.code(), "pass_expired");
}

#[test]
fn routes_limit_a_pass_to_those_routes_of_its_operators() {
    let p = programme_with_passes();
    let bus = p.operator("town-bus").expect("operator");
    let coach = p.operator("coach").expect("operator");
    let pupil = p.pass("pupil-6m").expect("declared");
    assert!(pupil.covers(bus, Some("coast")));
    assert!(!pupil.covers(bus, Some("hill")));
    assert!(
        !pupil.covers(bus, None),
        "a ride without a route is not on `coast`"
    );
    assert!(!pupil.covers(coach, Some("coast")));
    let free = p.pass("fy-free").expect("declared");
    assert!(free.covers(bus, None) && free.covers(coach, Some("any")));
}

#[test]
fn eligibility_is_written_like_the_rules() {
    let p = programme_with_passes();
    let riders = riders(&[
        r#"{"rider":"pupil","birth_date":"2013-06-01"}"#,
        r#"{"rider":"adult","birth_date":"1980-06-01","attributes":{"tax_exempt_household":true}}"#,
    ]);
    let on = day("2026-11-30");
    let pupil = p.pass("pupil-6m").expect("declared");
    let free = p.pass("fy-free").expect("declared");
    assert!(pupil.eligible(&riders, riders.get("pupil"), on));
    assert!(!pupil.eligible(&riders, riders.get("adult"), on));
    assert!(free.eligible(&riders, riders.get("adult"), on));
    assert!(!free.eligible(&riders, riders.get("pupil"), on));
    assert!(!free.eligible(&riders, None, on), "an unknown rider");
}

#[test]
fn of_several_usable_passes_the_one_that_expires_first_is_used() {
    let p = programme_with_passes();
    let week = p.pass("week").expect("declared");
    let on = day("2026-04-12");
    let chosen = choose_pass(
        on,
        [
            ("long", week, held("2026-04-01", "2026-04-30", 0, 0)),
            ("short", week, held("2026-04-10", "2026-04-16", 0, 0)),
            ("expired", week, held("2026-04-01", "2026-04-07", 0, 0)),
        ],
    );
    assert_eq!(chosen, Ok("short"));
}

#[test]
fn when_no_held_pass_can_take_the_ride_the_answer_says_why() {
    let p = programme_with_passes();
    let pupil = p.pass("pupil-6m").expect("declared");
    let on = day("2026-05-01");
    let none: [(&str, _, HeldPass); 0] = [];
    assert_eq!(choose_pass(on, none), Err(None), "no pass: no reason");
    assert_eq!(
        choose_pass(on, [("a", pupil, held("2026-04-10", "2026-10-09", 2, 2))]),
        Err(Some(PassRefusal::DailyLimit))
    );
    assert_eq!(
        choose_pass(
            on,
            [
                ("old", pupil, held("2025-10-01", "2026-03-31", 0, 0)),
                ("a", pupil, held("2026-04-10", "2026-10-09", 0, 0)),
            ]
        ),
        Ok("a"),
        "an expired pass does not hide a usable one"
    );
}

fn load_error(passes: &str) -> String {
    compile_in(std::path::Path::new("."), &format!("{HEADER}\n{passes}"))
        .expect_err("the programme is invalid")
        .to_string()
}

#[test]
fn bad_pass_products_are_errors_at_load() {
    let base =
        "[[passes]]\nid = \"p\"\nasset = \"a\"\noperators = [\"town-bus\"]\nfunded_by = \"fund\"\n";
    let cases = [
        ("payment = \"per_ride\"\n", "validity"),
        (
            "payment = \"per_ride\"\nvalid_days = 7\nvalid_months = 1\n",
            "validity",
        ),
        (
            "payment = \"per_ride\"\nvalid_from = 2027-01-01\nvalid_until = 2026-01-01\n",
            "validity",
        ),
        ("payment = \"flat\"\nvalid_days = 7\n", "needs a `price`"),
        (
            "payment = \"per_ride\"\nprice = 10\nvalid_days = 7\n",
            "`price`",
        ),
        (
            "payment = \"per_ride\"\nvalid_days = 7\nrides_per_day = 0\n",
            "at least 1",
        ),
        (
            "payment = \"per_ride\"\nvalid_days = 7\neligible = { has = \"nope\" }\n",
            "nope",
        ),
        ("payment = \"monthly\"\nvalid_days = 7\n", "monthly"),
    ];
    for (extra, expected) in cases {
        let message = load_error(&format!("{base}{extra}"));
        assert!(
            message.contains("pass `p`") && message.contains(expected),
            "{extra}: {message}"
        );
    }
    let unknown_operator = load_error(
        "[[passes]]\nid = \"p\"\nasset = \"a\"\noperators = [\"ferry\"]\nfunded_by = \"fund\"\npayment = \"per_ride\"\nvalid_days = 7\n",
    );
    assert!(unknown_operator.contains("ferry"), "{unknown_operator}");
    let unknown_budget = load_error(
        "[[passes]]\nid = \"p\"\nasset = \"a\"\noperators = [\"coach\"]\nfunded_by = \"nobody\"\npayment = \"per_ride\"\nvalid_days = 7\n",
    );
    assert!(unknown_budget.contains("nobody"), "{unknown_budget}");
}

#[test]
fn a_programme_without_passes_compiles_as_before() {
    let p = with_rules("");
    assert!(p.passes().is_empty());
    assert!(p.pass("pupil-6m").is_none());
}
