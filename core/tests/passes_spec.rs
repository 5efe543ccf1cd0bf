//! Issued passes (issue 13): the machine's pass book. Issue checks (eligibility, per person,
//! `sold_out` at N + 1), validity on local days, daily and total limits, the earliest-expiring
//! of several passes, and what per-ride and flat passes owe the operator.

use std::path::Path;

use kanjo_core::answer::RejectionCode;
use kanjo_core::machine::passes::{PassBook, PassIssueError, refusal_code};
use kanjo_rules::{LocalDate, PassRefusal, Programme, RiderRecord, Riders, Timestamp};

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
eligible = { school_stage = "junior_high" }
payment = "per_ride"
funded_by = "pupil-fund"
issue_limit = 3

[[passes]]
id = "ten-rides"
asset = "ten-ride-pass"
valid_days = 30
operators = ["city-bus", "kaigan"]
routes = ["coast", "hill"]
rides_total = 3
per_person = 2
payment = "flat"
price = 1500
funded_by = "pupil-fund"
"#;

fn programme() -> Programme {
    Programme::from_toml(Path::new("programme.toml"), PROGRAMME).expect("valid programme")
}

fn riders() -> Riders {
    let mut riders = Riders::new();
    for line in [
        r#"{"rider":"pupil-1","birth_date":"2013-06-01"}"#,
        r#"{"rider":"pupil-2","birth_date":"2013-07-01"}"#,
        r#"{"rider":"pupil-3","birth_date":"2013-08-01"}"#,
        r#"{"rider":"pupil-4","birth_date":"2013-09-01"}"#,
        r#"{"rider":"adult","birth_date":"1980-01-01"}"#,
    ] {
        let record: RiderRecord = serde_json::from_str(line).expect("rider");
        riders.upsert(record).expect("valid rider");
    }
    riders
}

fn day(text: &str) -> LocalDate {
    LocalDate::parse(text).expect("date")
}

fn local_day(p: &Programme, at: &str) -> LocalDate {
    p.local_date(at.parse::<Timestamp>().expect("timestamp"))
}

#[test]
fn a_pass_is_valid_from_its_issue_day_to_its_last_local_day() {
    let (p, riders) = (programme(), riders());
    let mut book = PassBook::new(&p);
    let kaigan = p.operator("kaigan").expect("operator");
    let issued = book
        .issue(&p, &riders, "pupil-6m", "pupil-1", day("2026-04-10"))
        .expect("issued");
    assert_eq!(
        (issued.first_day, issued.last_day),
        (day("2026-04-10"), day("2026-10-09"))
    );
    assert_eq!(issued.rides_per_day, Some(2));
    assert_eq!(issued.flat, None);
    // 2026-04-09T15:00:00Z is midnight on the 10th in Kobe; 2026-10-09T15:00:00Z is the 10th.
    let ride_on = |at: &str| book.choose(&p, "pupil-1", kaigan, None, local_day(&p, at));
    assert_eq!(
        ride_on("2026-04-09T14:59:59Z"),
        Err(Some(PassRefusal::Expired))
    );
    assert!(
        ride_on("2026-04-09T15:00:00Z").is_ok(),
        "the first valid day"
    );
    assert!(
        ride_on("2026-10-09T14:59:59Z").is_ok(),
        "the last valid day"
    );
    assert_eq!(
        ride_on("2026-10-09T15:00:00Z"),
        Err(Some(PassRefusal::Expired))
    );
    assert_eq!(
        refusal_code(PassRefusal::Expired),
        RejectionCode::PassExpired
    );
}

#[test]
fn the_daily_limit_covers_the_second_ride_and_not_the_third() {
    let (p, riders) = (programme(), riders());
    let mut book = PassBook::new(&p);
    let kaigan = p.operator("kaigan").expect("operator");
    book.issue(&p, &riders, "pupil-6m", "pupil-1", day("2026-04-10"))
        .expect("issued");
    let on = day("2026-05-01");
    for ride in 1..=2 {
        let cover = book
            .choose(&p, "pupil-1", kaigan, None, on)
            .expect("covered");
        book.commit_use(&cover, kaigan, on, 210);
        assert_eq!(book.product_totals()[0].rides_covered, ride);
    }
    assert_eq!(
        book.choose(&p, "pupil-1", kaigan, None, on),
        Err(Some(PassRefusal::DailyLimit)),
        "the ride that crosses the daily limit is rated normally"
    );
    assert!(
        book.choose(&p, "pupil-1", kaigan, None, day("2026-05-02"))
            .is_ok(),
        "the next day starts again"
    );
}

#[test]
fn the_total_limit_covers_the_last_ride_and_not_the_next() {
    let (p, riders) = (programme(), riders());
    let mut book = PassBook::new(&p);
    let bus = p.operator("city-bus").expect("operator");
    book.issue(&p, &riders, "ten-rides", "adult", day("2026-05-01"))
        .expect("issued");
    for offset in 0..3 {
        let on = day("2026-05-01").add_days(offset).expect("date");
        let cover = book
            .choose(&p, "adult", bus, Some("coast"), on)
            .expect("covered");
        book.commit_use(&cover, bus, on, 230);
    }
    assert_eq!(
        book.choose(&p, "adult", bus, Some("coast"), day("2026-05-10")),
        Err(Some(PassRefusal::UsedUp))
    );
    assert_eq!(
        book.choose(&p, "adult", bus, Some("port"), day("2026-05-10")),
        Err(None),
        "a route the pass does not cover: no pass applies"
    );
}

#[test]
fn the_issue_after_the_last_is_sold_out() {
    let (p, riders) = (programme(), riders());
    let mut book = PassBook::new(&p);
    for rider in ["pupil-1", "pupil-2", "pupil-3"] {
        book.issue(&p, &riders, "pupil-6m", rider, day("2026-04-10"))
            .expect("within the issue limit");
    }
    let error = book
        .issue(&p, &riders, "pupil-6m", "pupil-4", day("2026-04-10"))
        .expect_err("the fourth of three");
    assert_eq!(error, PassIssueError::SoldOut(3));
    assert_eq!(error.code(), RejectionCode::SoldOut);
    assert_eq!(book.product_totals()[0].issued, 3);
}

#[test]
fn issue_checks_eligibility_the_product_and_the_per_person_limit() {
    let (p, riders) = (programme(), riders());
    let mut book = PassBook::new(&p);
    let on = day("2026-04-10");
    let not_eligible = book
        .issue(&p, &riders, "pupil-6m", "adult", on)
        .expect_err("adult");
    assert_eq!(not_eligible.code(), RejectionCode::NotEligible);
    let unknown = book
        .issue(&p, &riders, "pupil-6n", "pupil-1", on)
        .expect_err("typo");
    assert_eq!(unknown.code(), RejectionCode::UnknownPass);
    book.issue(&p, &riders, "pupil-6m", "pupil-1", on)
        .expect("first");
    let second = book
        .issue(&p, &riders, "pupil-6m", "pupil-1", on)
        .expect_err("second");
    assert_eq!(second, PassIssueError::PerPerson(1));
    assert_eq!(second.code(), RejectionCode::LimitReached);
    book.issue(&p, &riders, "ten-rides", "pupil-1", on)
        .expect("per_person = 2");
    book.issue(&p, &riders, "ten-rides", "pupil-1", on)
        .expect("per_person = 2");
    assert!(book.issue(&p, &riders, "ten-rides", "pupil-1", on).is_err());
    assert_eq!(book.of_rider("pupil-1").count(), 3);
    assert_eq!(book.len(), 3, "refused issues change nothing");
}

#[test]
fn of_several_passes_the_one_that_expires_first_is_used() {
    let (p, riders) = (programme(), riders());
    let mut book = PassBook::new(&p);
    let kaigan = p.operator("kaigan").expect("operator");
    let six_months = book
        .issue(&p, &riders, "pupil-6m", "pupil-1", day("2026-04-10"))
        .expect("issued");
    let early = book
        .issue(&p, &riders, "ten-rides", "pupil-1", day("2026-04-10"))
        .expect("issued");
    let late = book
        .issue(&p, &riders, "ten-rides", "pupil-1", day("2026-04-20"))
        .expect("issued");
    let on = day("2026-04-25");
    let cover = book
        .choose(&p, "pupil-1", kaigan, Some("coast"), on)
        .expect("covered");
    assert_eq!(
        cover.pass, early.pass,
        "expires 2026-05-09, before the others"
    );
    assert_ne!(cover.pass, late.pass);
    let off_route = book
        .choose(&p, "pupil-1", kaigan, None, on)
        .expect("covered");
    assert_eq!(
        off_route.pass, six_months.pass,
        "the route-less ride only fits the 6-month pass"
    );
}

#[test]
fn per_ride_passes_owe_each_fare_and_flat_passes_their_price_on_the_issue_day() {
    let (p, riders) = (programme(), riders());
    let mut book = PassBook::new(&p);
    let kaigan = p.operator("kaigan").expect("operator");
    let bus = p.operator("city-bus").expect("operator");
    let flat = book
        .issue(&p, &riders, "ten-rides", "adult", day("2026-05-01"))
        .expect("issued");
    let (price, _budget, owed_to) = flat.flat.expect("a flat pass has a price");
    assert_eq!(
        (price, owed_to),
        (1500, bus),
        "the flat price is owed to the pass's first operator"
    );
    book.issue(&p, &riders, "pupil-6m", "pupil-1", day("2026-05-01"))
        .expect("issued");
    let on = day("2026-05-02");
    let per_ride = book
        .choose(&p, "pupil-1", kaigan, None, on)
        .expect("covered");
    assert!(per_ride.per_ride_budget.is_some());
    book.commit_use(&per_ride, kaigan, on, 210);
    let flat_ride = book
        .choose(&p, "adult", bus, Some("hill"), on)
        .expect("covered");
    assert_eq!(
        flat_ride.per_ride_budget, None,
        "a flat pass was paid at issue"
    );
    book.commit_use(&flat_ride, bus, on, 230);
    let owed: Vec<_> = book
        .owed_per_operator_day()
        .iter()
        .map(|(&(operator, day), &yen)| {
            (p.operator_code(operator).to_string(), day.to_string(), yen)
        })
        .collect();
    assert_eq!(
        owed,
        [
            ("kaigan".to_string(), "2026-05-02".to_string(), 210),
            ("city-bus".to_string(), "2026-05-01".to_string(), 1500),
        ]
    );
}
