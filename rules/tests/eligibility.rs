//! spec/rating.md "Eligibility", boundary by boundary. Each rule here is a free ride funded by
//! a large budget on the 100-yen town bus, so `rider_pays == 0` means "eligible".

mod common;

use common::*;

fn free_when(eligible: &str) -> kanjo_rules::Programme {
    with_rules(&format!(
        r#"
[[rules]]
id = "free"
kind = "fare_discount"
eligible = {eligible}
discount = {{ type = "free" }}
funded_by = "fund"
"#
    ))
}

fn eligible(p: &kanjo_rules::Programme, rider_line: &str, at: &str) -> bool {
    let riders = riders(&[rider_line]);
    pays(&rate_one(p, &riders, at, "r")) == 0
}

const TOKYO_NOON: &str = "T12:00:00+09:00";

fn at(date: &str) -> String {
    format!("{date}{TOKYO_NOON}")
}

#[test]
fn age_is_reached_on_the_birthday_itself() {
    let p = free_when("{ min_age = 75 }");
    let rider = r#"{"rider":"r","birth_date":"1951-11-26"}"#;
    assert!(!eligible(&p, rider, &at("2026-11-25")), "74 the day before");
    assert!(eligible(&p, rider, &at("2026-11-26")), "75 on the birthday");
}

#[test]
fn max_age_holds_up_to_the_day_before_the_next_birthday() {
    let p = free_when("{ max_age = 12 }");
    let rider = r#"{"rider":"r","birth_date":"2013-06-10"}"#;
    assert!(
        eligible(&p, rider, &at("2026-06-09")),
        "12 until the day before turning 13"
    );
    assert!(
        !eligible(&p, rider, &at("2026-06-10")),
        "13 on the birthday"
    );
}

#[test]
fn a_29_february_birthday_is_reached_on_1_march_in_common_years() {
    let p = free_when("{ min_age = 75 }");
    let rider = r#"{"rider":"r","birth_date":"1952-02-29"}"#;
    assert!(!eligible(&p, rider, &at("2027-02-28")));
    assert!(eligible(&p, rider, &at("2027-03-01")));
    let leap = r#"{"rider":"r","birth_date":"1953-02-28"}"#;
    assert!(
        eligible(&p, leap, &at("2028-02-28")),
        "a 28 February birthday stays 28 February"
    );
    let leap_year = r#"{"rider":"r","birth_date":"1952-02-29"}"#;
    assert!(
        eligible(&p, leap_year, &at("2028-02-29")),
        "in a leap year it is 29 February"
    );
}

#[test]
fn age_is_taken_on_the_local_date_in_tokyo_not_the_utc_date() {
    let p = free_when("{ min_age = 75 }");
    let rider = r#"{"rider":"r","birth_date":"1951-11-26"}"#;
    // 2026-11-25T14:59:59Z is 23:59:59 on the 25th in Tokyo; one second later it is the 26th.
    assert!(!eligible(&p, rider, "2026-11-25T14:59:59Z"));
    assert!(eligible(&p, rider, "2026-11-25T15:00:00Z"));
    assert!(eligible(&p, rider, "2026-11-26T00:00:00+09:00"));
    assert!(!eligible(&p, rider, "2026-11-25T23:59:59+09:00"));
}

#[test]
fn the_programme_time_zone_decides_the_local_date() {
    let p = programme(
        &(HEADER.replace("Asia/Tokyo", "UTC")
            + r#"
[[rules]]
id = "free"
kind = "fare_discount"
eligible = { min_age = 75 }
discount = { type = "free" }
funded_by = "fund"
"#),
    );
    let rider = r#"{"rider":"r","birth_date":"1951-11-26"}"#;
    // 08:00 on the 26th in Tokyo is still the 25th in UTC.
    assert!(!eligible(&p, rider, "2026-11-26T08:00:00+09:00"));
    assert!(eligible(&p, rider, "2026-11-26T09:00:00+09:00"));
}

#[test]
fn a_child_born_1_april_starts_school_a_year_before_one_born_2_april() {
    let p = free_when(r#"{ school_stage = "elementary" }"#);
    let april_1 = r#"{"rider":"r","birth_date":"2019-04-01"}"#;
    let april_2 = r#"{"rider":"r","birth_date":"2019-04-02"}"#;
    // Born 2 April 2018 .. 1 April 2019: grade 1 from 1 April 2025.
    assert!(!eligible(&p, april_1, &at("2025-03-31")));
    assert!(eligible(&p, april_1, &at("2025-04-01")));
    // Born 2 April 2019 .. 1 April 2020: grade 1 from 1 April 2026.
    assert!(!eligible(&p, april_2, &at("2026-03-31")));
    assert!(eligible(&p, april_2, &at("2026-04-01")));
}

#[test]
fn elementary_is_grades_1_to_6_and_junior_high_grades_7_to_9() {
    let elementary = free_when(r#"{ school_stage = "elementary" }"#);
    let junior_high = free_when(r#"{ school_stage = "junior_high" }"#);
    // Cohort 2 April 2013 .. 1 April 2014: grade 1 in FY2020, grade 6 in FY2025, grade 7 in
    // FY2026, grade 9 in FY2028, out of junior high from FY2029.
    let child = r#"{"rider":"r","birth_date":"2014-01-15"}"#;
    assert!(eligible(&elementary, child, &at("2026-03-31")));
    assert!(!eligible(&junior_high, child, &at("2026-03-31")));
    assert!(!eligible(&elementary, child, &at("2026-04-01")));
    assert!(eligible(&junior_high, child, &at("2026-04-01")));
    assert!(eligible(&junior_high, child, &at("2029-03-31")));
    assert!(!eligible(&junior_high, child, &at("2029-04-01")));
}

#[test]
fn resident_of_compares_the_residence_code() {
    let p = free_when(r#"{ resident_of = "012050" }"#);
    assert!(eligible(
        &p,
        r#"{"rider":"r","residence":"012050"}"#,
        &at("2026-11-25")
    ));
    assert!(!eligible(
        &p,
        r#"{"rider":"r","residence":"011002"}"#,
        &at("2026-11-25")
    ));
    assert!(
        !eligible(&p, r#"{"rider":"r"}"#, &at("2026-11-25")),
        "no residence"
    );
    assert!(
        !eligible(
            &p,
            r#"{"rider":"r","residence":"12050"}"#,
            &at("2026-11-25")
        ),
        "5 digits is not the code"
    );
}

#[test]
fn visitor_of_holds_for_other_residents_unknown_riders_and_riders_without_residence() {
    let p = free_when(r#"{ visitor_of = "012050" }"#);
    assert!(!eligible(
        &p,
        r#"{"rider":"r","residence":"012050"}"#,
        &at("2026-11-25")
    ));
    assert!(eligible(
        &p,
        r#"{"rider":"r","residence":"011002"}"#,
        &at("2026-11-25")
    ));
    assert!(eligible(&p, r#"{"rider":"r"}"#, &at("2026-11-25")));
    assert!(eligible(
        &p,
        r#"{"rider":"r","residence":"not-a-code"}"#,
        &at("2026-11-25")
    ));
    let registry = riders(&[]);
    assert_eq!(
        pays(&rate_one(&p, &registry, &at("2026-11-25"), "stranger")),
        0,
        "unknown rider is a visitor"
    );
}

#[test]
fn license_returned_holds_from_the_return_date_on() {
    let p = free_when("{ license_returned = true }");
    let rider = r#"{"rider":"r","license_returned_on":"2026-11-26"}"#;
    assert!(!eligible(&p, rider, &at("2026-11-25")));
    assert!(eligible(&p, rider, &at("2026-11-26")));
    assert!(!eligible(
        &p,
        r#"{"rider":"r","license_returned_on":null}"#,
        &at("2026-11-26")
    ));
}

#[test]
fn disability_holds_only_when_true() {
    let p = free_when("{ disability = true }");
    assert!(eligible(
        &p,
        r#"{"rider":"r","disability":true}"#,
        &at("2026-11-25")
    ));
    assert!(!eligible(
        &p,
        r#"{"rider":"r","disability":false}"#,
        &at("2026-11-25")
    ));
    assert!(
        !eligible(&p, r#"{"rider":"r"}"#, &at("2026-11-25")),
        "missing means false"
    );
}

#[test]
fn evidence_is_valid_through_valid_until_and_not_after() {
    let p = free_when(r#"{ min_age = 75, resident_of = "012050" }"#);
    let rider = r#"{"rider":"r","birth_date":"1940-01-01","residence":"012050","valid_until":"2026-10-31"}"#;
    assert!(eligible(&p, rider, &at("2026-10-31")));
    assert!(!eligible(&p, rider, &at("2026-11-01")));
    // The day ends at midnight Tokyo time, not UTC.
    assert!(eligible(&p, rider, "2026-10-31T23:59:59+09:00"));
    assert!(!eligible(&p, rider, "2026-10-31T15:00:00Z"));
}

#[test]
fn expired_evidence_gives_no_attribute_but_residence_still_decides_visitor_of() {
    let disabled = free_when("{ disability = true }");
    let expired =
        r#"{"rider":"r","disability":true,"residence":"012050","valid_until":"2026-10-31"}"#;
    assert!(!eligible(&disabled, expired, &at("2026-11-25")));
    let visitors = free_when(r#"{ visitor_of = "012050" }"#);
    assert!(!eligible(&visitors, expired, &at("2026-11-25")));
}

#[test]
fn unknown_riders_have_no_attributes() {
    let p = free_when("{ max_age = 200 }");
    let registry = riders(&[]);
    assert_eq!(
        pays(&rate_one(&p, &registry, &at("2026-11-25"), "stranger")),
        100
    );
}

#[test]
fn an_empty_eligible_table_means_everyone_even_without_a_rider() {
    let p = free_when("{}");
    let registry = riders(&[]);
    assert_eq!(
        pays(&rate_one(&p, &registry, &at("2026-11-25"), "stranger")),
        0
    );
    let no_rider =
        r#"{"id":"e","type":"ride","at":"2026-11-25T12:00:00+09:00","operator":"town-bus"}"#;
    assert_eq!(pays(&rate(&p, &registry, &[no_rider.to_string()])[0]), 0);
}

#[test]
fn every_given_key_must_hold() {
    let p = free_when(r#"{ min_age = 75, resident_of = "012050" }"#);
    assert!(eligible(
        &p,
        r#"{"rider":"r","birth_date":"1940-01-01","residence":"012050"}"#,
        &at("2026-11-25")
    ));
    assert!(!eligible(
        &p,
        r#"{"rider":"r","birth_date":"1940-01-01","residence":"011002"}"#,
        &at("2026-11-25")
    ));
    assert!(!eligible(
        &p,
        r#"{"rider":"r","birth_date":"1990-01-01","residence":"012050"}"#,
        &at("2026-11-25")
    ));
}

#[test]
fn a_rider_record_replaced_later_is_judged_by_the_new_record() {
    let p = free_when("{ disability = true }");
    let mut registry = riders(&[r#"{"rider":"r","disability":true}"#]);
    registry
        .upsert(serde_json::from_str(r#"{"rider":"r","disability":false}"#).expect("json"))
        .expect("valid");
    assert_eq!(registry.len(), 1);
    assert_eq!(pays(&rate_one(&p, &registry, &at("2026-11-25"), "r")), 100);
}
