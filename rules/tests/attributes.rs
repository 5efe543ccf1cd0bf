//! Custom rider attributes (issue 13): facts from the town's own records, declared in the
//! programme's `[[attributes]]`, read by `eligible = { has = .. }` and `{ since = .. }`.
//! Each rule here is a free ride on the 100-yen town bus, so `rider_pays == 0` means "eligible".

mod common;

use common::*;
use kanjo_rules::riders::RiderError;
use kanjo_rules::{Programme, RiderRecord, Riders};

const DECLARED: &str = r#"
[[attributes]]
name = "tax_exempt_household"
type = "bool"

[[attributes]]
name = "pregnancy_notice"
type = "date"
"#;

fn programme_text(eligible: &str) -> String {
    format!(
        r#"{HEADER}
{DECLARED}
[[rules]]
id = "free"
kind = "fare_discount"
eligible = {eligible}
discount = {{ type = "free" }}
funded_by = "fund"
"#
    )
}

fn free_when(eligible: &str) -> Programme {
    programme(&programme_text(eligible))
}

fn load_error(eligible: &str) -> String {
    compile_in(std::path::Path::new("."), &programme_text(eligible))
        .expect_err("the programme is invalid")
        .to_string()
}

fn eligible(p: &Programme, rider_line: &str, date: &str) -> bool {
    let riders = riders(&[rider_line]);
    pays(&rate_one(
        p,
        &riders,
        &format!("{date}T12:00:00+09:00"),
        "r",
    )) == 0
}

#[test]
fn has_holds_only_when_the_attribute_is_true() {
    let p = free_when(r#"{ has = "tax_exempt_household" }"#);
    let yes = r#"{"rider":"r","attributes":{"tax_exempt_household":true}}"#;
    let no = r#"{"rider":"r","attributes":{"tax_exempt_household":false}}"#;
    let absent = r#"{"rider":"r"}"#;
    let other = r#"{"rider":"r","attributes":{"pregnancy_notice":"2026-01-01"}}"#;
    assert!(eligible(&p, yes, "2026-11-30"));
    assert!(!eligible(&p, no, "2026-11-30"));
    assert!(!eligible(&p, absent, "2026-11-30"));
    assert!(!eligible(&p, other, "2026-11-30"));
    let unknown = riders(&[]);
    assert_eq!(
        pays(&rate_one(&p, &unknown, "2026-11-30T12:00:00+09:00", "r")),
        100,
        "an unknown rider has no attributes"
    );
}

#[test]
fn since_holds_from_the_date_itself_to_within_days_after_it() {
    let p = free_when(r#"{ since = { attribute = "pregnancy_notice", within_days = 300 } }"#);
    let rider = r#"{"rider":"r","attributes":{"pregnancy_notice":"2026-01-10"}}"#;
    assert!(
        !eligible(&p, rider, "2026-01-09"),
        "the day before the notice"
    );
    assert!(eligible(&p, rider, "2026-01-10"), "the day of the notice");
    // 2026-01-10 + 300 days = 2026-11-06.
    assert!(eligible(&p, rider, "2026-11-06"), "the 300th day after");
    assert!(!eligible(&p, rider, "2026-11-07"), "the 301st day after");
}

#[test]
fn since_is_taken_on_the_local_date_in_tokyo() {
    let p = free_when(r#"{ since = { attribute = "pregnancy_notice", within_days = 0 } }"#);
    let riders = riders(&[r#"{"rider":"r","attributes":{"pregnancy_notice":"2026-01-10"}}"#]);
    // 2026-01-09T15:00:00Z is midnight on the 10th in Tokyo.
    assert_eq!(
        pays(&rate_one(&p, &riders, "2026-01-09T14:59:59Z", "r")),
        100
    );
    assert_eq!(pays(&rate_one(&p, &riders, "2026-01-09T15:00:00Z", "r")), 0);
    assert_eq!(
        pays(&rate_one(&p, &riders, "2026-01-10T15:00:00Z", "r")),
        100
    );
}

#[test]
fn an_attribute_holds_up_to_and_including_its_own_valid_until() {
    let p = free_when(r#"{ has = "tax_exempt_household" }"#);
    let rider = r#"{"rider":"r","attributes":{"tax_exempt_household":
        {"value":true,"verified_at":"2026-04-01","valid_until":"2027-03-31"}}}"#
        .replace('\n', "");
    assert!(eligible(&p, &rider, "2027-03-31"), "the last valid day");
    assert!(!eligible(&p, &rider, "2027-04-01"), "the day after");
}

#[test]
fn an_attribute_also_needs_the_record_evidence_to_be_valid() {
    let p = free_when(r#"{ has = "tax_exempt_household" }"#);
    let rider =
        r#"{"rider":"r","valid_until":"2027-03-31","attributes":{"tax_exempt_household":true}}"#;
    assert!(eligible(&p, rider, "2027-03-31"));
    assert!(
        !eligible(&p, rider, "2027-04-01"),
        "the record's evidence expired, as for the built-in keys"
    );
}

#[test]
fn has_and_a_built_in_key_must_both_hold() {
    let p = free_when(r#"{ has = "tax_exempt_household", min_age = 65 }"#);
    let old =
        r#"{"rider":"r","birth_date":"1950-01-01","attributes":{"tax_exempt_household":true}}"#;
    let young =
        r#"{"rider":"r","birth_date":"1990-01-01","attributes":{"tax_exempt_household":true}}"#;
    assert!(eligible(&p, old, "2026-11-30"));
    assert!(!eligible(&p, young, "2026-11-30"));
}

#[test]
fn a_misspelt_attribute_name_is_an_error_at_load() {
    let message = load_error(r#"{ has = "tax_exempt_houshold" }"#);
    assert!(
        message.contains("rule `free`")
            && message.contains("tax_exempt_houshold")
            && message.contains("[[attributes]]"),
        "{message}"
    );
}

#[test]
fn has_needs_a_bool_attribute_and_since_a_date_attribute() {
    let message = load_error(r#"{ has = "pregnancy_notice" }"#);
    assert!(message.contains("`date`, not `bool`"), "{message}");
    let message =
        load_error(r#"{ since = { attribute = "tax_exempt_household", within_days = 3 } }"#);
    assert!(message.contains("`bool`, not `date`"), "{message}");
}

#[test]
fn declarations_are_checked() {
    let twice = format!(
        "{HEADER}\n{DECLARED}\n[[attributes]]\nname = \"pregnancy_notice\"\ntype = \"date\"\n"
    );
    let message = compile_in(std::path::Path::new("."), &twice)
        .expect_err("declared twice")
        .to_string();
    assert!(message.contains("declared twice"), "{message}");
    let bad_type = format!("{HEADER}\n[[attributes]]\nname = \"x\"\ntype = \"text\"\n");
    assert!(compile_in(std::path::Path::new("."), &bad_type).is_err());
    let bad_name = format!("{HEADER}\n[[attributes]]\nname = \"Tax Exempt\"\ntype = \"bool\"\n");
    let message = compile_in(std::path::Path::new("."), &bad_name)
        .expect_err("bad name")
        .to_string();
    assert!(message.contains("attribute `Tax Exempt`"), "{message}");
}

#[test]
fn the_number_and_names_of_a_riders_attributes_are_bounded() {
    let many: Vec<String> = (0..=kanjo_rules::limits::MAX_RIDER_ATTRIBUTES)
        .map(|i| format!("\"a{i}\":true"))
        .collect();
    let line = format!(r#"{{"rider":"r","attributes":{{{}}}}}"#, many.join(","));
    let record: RiderRecord = serde_json::from_str(&line).expect("JSON");
    assert_eq!(
        Riders::new().upsert(record),
        Err(RiderError::TooManyAttributes)
    );
    let long = "a".repeat(kanjo_rules::limits::MAX_ATTRIBUTE_NAME_BYTES + 1);
    for name in [long.as_str(), "", "Upper", "has space", "9lives"] {
        let line = format!(r#"{{"rider":"r","attributes":{{"{name}":true}}}}"#);
        let record: RiderRecord = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            Riders::new().upsert(record),
            Err(RiderError::BadAttributeName),
            "{name:?}"
        );
    }
}

#[test]
fn an_attribute_value_is_a_boolean_or_a_date_never_text() {
    for value in [r#""123456789012""#, r#""yes""#, "1", r#"{"value":"x"}"#] {
        let line = format!(r#"{{"rider":"r","attributes":{{"note":{value}}}}}"#);
        assert!(
            serde_json::from_str::<RiderRecord>(&line).is_err(),
            "{value} is refused"
        );
    }
}

#[test]
fn a_riders_file_with_a_my_number_in_an_attribute_fails_the_run() {
    let dir = temp_dir("attribute-privacy");
    let path = dir.join("riders.ndjson");
    std::fs::write(
        &path,
        r#"{"rider":"r","attributes":{"id_123456789012":true}}"#,
    )
    .expect("write");
    assert!(kanjo_rules::read_riders(&path).is_err());
}
