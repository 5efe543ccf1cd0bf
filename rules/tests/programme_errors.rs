//! Bad programmes fail to load with a message naming the file, the rule (or table) and the
//! problem; engine-only tables are ignored.

mod common;

use common::*;
use kanjo_rules::{Programme, ProgrammeError};

/// Loads `text` written to a temp `programme.toml`; returns the error message.
fn load_error(text: &str) -> String {
    let dir = temp_dir("bad-programme");
    let path = dir.join("programme.toml");
    std::fs::write(&path, text).expect("write programme");
    let error = Programme::load(&path).expect_err("the programme is invalid");
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "names the file: {message}"
    );
    message
}

fn with_rule(rule: &str) -> String {
    format!("{HEADER}\n[[rules]]\n{rule}")
}

#[test]
fn a_missing_programme_file_is_an_io_error() {
    let error = Programme::load(std::path::Path::new("/nonexistent/kanjo/programme.toml"))
        .expect_err("missing");
    assert!(matches!(error, ProgrammeError::Io { .. }));
    assert!(
        error
            .to_string()
            .contains("/nonexistent/kanjo/programme.toml")
    );
}

#[test]
fn an_unknown_rule_kind_names_the_rule_and_the_kind() {
    let message = load_error(&with_rule(
        r#"id = "magic"
kind = "teleport_discount"
"#,
    ));
    assert!(
        message.contains("rule `magic`") && message.contains("teleport_discount"),
        "{message}"
    );
}

#[test]
fn a_typo_in_a_rule_names_the_rule_and_the_key() {
    let message = load_error(&with_rule(
        r#"id = "senior-free"
kind = "fare_discount"
elegible = { min_age = 75 }
discount = { type = "free" }
funded_by = "fund"
"#,
    ));
    assert!(
        message.contains("rule `senior-free`") && message.contains("elegible"),
        "{message}"
    );
}

#[test]
fn a_typo_inside_eligible_or_discount_names_the_key() {
    let message = load_error(&with_rule(
        r#"id = "r"
kind = "fare_discount"
eligible = { min_agee = 75 }
discount = { type = "free" }
funded_by = "fund"
"#,
    ));
    assert!(
        message.contains("rule `r`") && message.contains("min_agee"),
        "{message}"
    );
    let message = load_error(&with_rule(
        r#"id = "r"
kind = "fare_discount"
discount = { type = "percent_off", percent = 50, rounding = "up_10" }
funded_by = "fund"
"#,
    ));
    assert!(
        message.contains("rule `r`") && message.contains("rounding"),
        "{message}"
    );
}

#[test]
fn a_bad_value_inside_eligible_names_the_table() {
    let message = load_error(&with_rule(
        r#"id = "r"
kind = "fare_discount"
eligible = { min_age = -75 }
discount = { type = "free" }
funded_by = "fund"
"#,
    ));
    assert!(
        message.contains("rule `r`: eligible") && message.contains("-75"),
        "{message}"
    );
}

#[test]
fn a_bad_town_code_check_digit_is_rejected() {
    let message = load_error(&HEADER.replace(r#"code = "012050""#, r#"code = "012051""#));
    assert!(
        message.contains("[town] code") && message.contains("012051"),
        "{message}"
    );
    let message = load_error(&HEADER.replace(r#"code = "012050""#, r#"code = "01205""#));
    assert!(message.contains("01205"), "{message}");
}

#[test]
fn a_bad_municipality_code_in_a_rule_is_rejected() {
    for key in ["resident_of", "visitor_of"] {
        let message = load_error(&with_rule(&format!(
            r#"id = "res"
kind = "points_per_ride"
eligible = {{ {key} = "012059" }}
asset = "pt"
amount = 1
"#
        )));
        assert!(
            message.contains("rule `res`") && message.contains(key) && message.contains("012059"),
            "{message}"
        );
    }
}

#[test]
fn a_budget_that_does_not_exist_is_rejected() {
    let message = load_error(&with_rule(
        r#"id = "free"
kind = "fare_discount"
discount = { type = "free" }
funded_by = "no-such-budget"
"#,
    ));
    assert!(
        message.contains("rule `free`") && message.contains("no-such-budget"),
        "{message}"
    );
}

#[test]
fn a_fare_discount_needs_a_budget() {
    let message = load_error(&with_rule(
        r#"id = "free"
kind = "fare_discount"
discount = { type = "free" }
"#,
    ));
    assert!(
        message.contains("rule `free`") && message.contains("funded_by"),
        "{message}"
    );
}

#[test]
fn an_unreadable_gtfs_folder_is_rejected() {
    let message = load_error(&format!(
        "{HEADER}\n[[fare_tables]]\noperator = \"ghost\"\ngtfs = \"no/such/folder\"\n"
    ));
    assert!(
        message.contains("ghost") && message.contains("no/such/folder"),
        "{message}"
    );
}

#[test]
fn a_gtfs_folder_without_fare_attributes_is_rejected() {
    let dir = temp_dir("empty-gtfs");
    std::fs::create_dir_all(dir.join("feed")).expect("mkdir");
    std::fs::write(dir.join("feed/stops.txt"), "stop_id,zone_id\na,z\n").expect("write");
    let text = format!("{HEADER}\n[[fare_tables]]\noperator = \"rail\"\ngtfs = \"feed\"\n");
    let error = compile_in(&dir, &text).expect_err("no fare_attributes.txt");
    assert!(error.to_string().contains("fare_attributes.txt"), "{error}");
}

#[test]
fn a_fare_table_needs_exactly_one_of_gtfs_or_flat_fare() {
    let message = load_error(&format!(
        "{HEADER}\n[[fare_tables]]\noperator = \"both\"\nflat_fare = 100\ngtfs = \"x\"\n"
    ));
    assert!(message.contains("fare table `both`"), "{message}");
    let message = load_error(&format!(
        "{HEADER}\n[[fare_tables]]\noperator = \"neither\"\n"
    ));
    assert!(message.contains("fare table `neither`"), "{message}");
}

#[test]
fn duplicate_rule_ids_and_operators_are_rejected() {
    let rule = r#"id = "p"
kind = "points_per_ride"
asset = "pt"
amount = 1
"#;
    let message = load_error(&format!("{}\n[[rules]]\n{rule}", with_rule(rule)));
    assert!(message.contains("rule `p`"), "{message}");
    let message = load_error(&format!(
        "{HEADER}\n[[fare_tables]]\noperator = \"coach\"\nflat_fare = 1\n"
    ));
    assert!(message.contains("coach"), "{message}");
}

#[test]
fn a_rule_naming_an_operator_without_fare_table_is_rejected() {
    let message = load_error(&with_rule(
        r#"id = "cap"
kind = "daily_cap"
operators = ["metro"]
amount = 500
"#,
    ));
    assert!(
        message.contains("rule `cap`") && message.contains("metro"),
        "{message}"
    );
}

#[test]
fn more_than_max_rules_is_rejected() {
    let mut text = HEADER.to_string();
    for i in 0..=kanjo_rules::limits::MAX_RULES {
        text.push_str(&format!(
            "\n[[rules]]\nid = \"cap-{i}\"\nkind = \"daily_cap\"\namount = 500\n"
        ));
    }
    let message = load_error(&text);
    assert!(
        message.contains(&kanjo_rules::limits::MAX_RULES.to_string()),
        "{message}"
    );
}

#[test]
fn bad_discount_values_are_rejected() {
    for (discount, needle) in [
        (r#"{ type = "percent_off", percent = 150 }"#, "percent"),
        (
            r#"{ type = "percent_off", percent = 50, round = "up_100" }"#,
            "up_100",
        ),
        (r#"{ type = "fixed_fare" }"#, "amount"),
        (r#"{ type = "half" }"#, "half"),
        (r#"{ type = "free", amount = 3 }"#, "amount"),
    ] {
        let message = load_error(&with_rule(&format!(
            "id = \"d\"\nkind = \"fare_discount\"\ndiscount = {discount}\nfunded_by = \"fund\"\n"
        )));
        assert!(
            message.contains("rule `d`") && message.contains(needle),
            "{discount}: {message}"
        );
    }
}

#[test]
fn a_bad_school_stage_or_time_zone_is_rejected() {
    let message = load_error(&with_rule(
        r#"id = "kids"
kind = "points_per_ride"
eligible = { school_stage = "high_school" }
asset = "pt"
amount = 1
"#,
    ));
    assert!(
        message.contains("rule `kids`") && message.contains("high_school"),
        "{message}"
    );
    let message = load_error(&HEADER.replace("Asia/Tokyo", "Mars/Olympus_Mons"));
    assert!(message.contains("Mars/Olympus_Mons"), "{message}");
}

#[test]
fn invalid_toml_is_rejected_with_the_file_name() {
    let message = load_error("[town\ncode = ");
    assert!(message.contains("TOML"), "{message}");
}

#[test]
fn engine_only_tables_are_ignored() {
    let text = format!(
        "{HEADER}\n[engine]\nbatch_max = 512\n\n[[assets]]\ncode = \"pt\"\nscale = 0\n\n[[accounts]]\nname = \"x\"\n"
    );
    let p = programme(&text);
    assert_eq!(p.town_code(), "012050");
    assert_eq!(p.town_name(), "室蘭市");
}

#[test]
fn a_programme_of_only_a_town_assets_and_shops_loads() {
    // spec/purchases-example: a town paying shops, with no fares, budgets or rules.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../spec/purchases-example/programme.toml"),
    )
    .expect("the purchases example");
    let p = programme(&text);
    assert_eq!(p.operators().count(), 0);
    assert!(p.budgets().is_empty());
    assert_eq!(p.rule_count(), 0);
}

#[test]
fn the_compiled_programme_lists_operators_budgets_rules_and_assets() {
    let p = with_rules(
        r#"
[[rules]]
id = "p"
kind = "points_per_ride"
asset = "pt"
amount = 1

[[rules]]
id = "r"
kind = "ride_reward"
every = 2
asset = "ticket"
amount = 1
"#,
    );
    let operators: Vec<&str> = p.operators().map(|(_, code)| code).collect();
    assert_eq!(operators, ["town-bus", "coach"]);
    assert_eq!(p.operator("coach").map(|o| o.index()), Some(1));
    assert_eq!(p.budgets().len(), 6);
    assert_eq!(p.rule_id(kanjo_rules::RuleIx(1)), "r");
    let assets: Vec<&str> = p.assets().map(|(_, code)| code).collect();
    assert_eq!(assets, ["pt", "ticket"]);
}

#[test]
fn the_source_digest_changes_with_the_programme_text() {
    let a = with_rules("");
    let b = programme(&HEADER.replace("flat_fare = 100", "flat_fare = 110"));
    assert_eq!(a.source_digest(), with_rules("").source_digest());
    assert_ne!(a.source_digest(), b.source_digest());
}
