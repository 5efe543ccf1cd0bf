//! Shared fixtures for the spec tests: programmes from TOML text, riders and events as JSON
//! lines, outputs as JSON values.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kanjo_rules::{EventRun, Programme, ProgrammeError, RiderRecord, Riders};
use serde_json::Value;

/// The top of a programme: 室蘭市 in Asia/Tokyo, a flat 100-yen town bus and a flat 300-yen
/// second operator, a large budget `fund` in each of FY2024..=FY2029. Tests append their rules.
pub const HEADER: &str = r#"
[town]
code = "012050"
name = "室蘭市"
timezone = "Asia/Tokyo"

[[fare_tables]]
operator = "town-bus"
flat_fare = 100

[[fare_tables]]
operator = "coach"
flat_fare = 300

[[budgets]]
id = "fund"
fiscal_year = 2024
limit = 1000000

[[budgets]]
id = "fund"
fiscal_year = 2025
limit = 1000000

[[budgets]]
id = "fund"
fiscal_year = 2026
limit = 1000000

[[budgets]]
id = "fund"
fiscal_year = 2027
limit = 1000000

[[budgets]]
id = "fund"
fiscal_year = 2028
limit = 1000000

[[budgets]]
id = "fund"
fiscal_year = 2029
limit = 1000000
"#;

/// A fresh, empty folder under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kanjo-rules-test-{}-{}-{tag}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn muroran() -> PathBuf {
    repo().join("data/gtfs-jp/donan-bus-muroran")
}

/// Compiles `text` as if it were `programme.toml` in `dir` (GTFS paths resolve from there).
pub fn compile_in(dir: &Path, text: &str) -> Result<Programme, ProgrammeError> {
    Programme::from_toml(&dir.join("programme.toml"), text)
}

pub fn programme(text: &str) -> Programme {
    compile_in(Path::new("."), text).unwrap_or_else(|e| panic!("test programme is valid: {e}"))
}

/// HEADER plus `rules`.
pub fn with_rules(rules: &str) -> Programme {
    programme(&format!("{HEADER}\n{rules}"))
}

pub fn riders(lines: &[&str]) -> Riders {
    let mut riders = Riders::new();
    for line in lines {
        let record: RiderRecord = serde_json::from_str(line).expect("test rider is JSON");
        riders.upsert(record).expect("test rider is valid");
    }
    riders
}

/// Rates event lines in order; returns one JSON value per output line.
pub fn rate(p: &Programme, riders: &Riders, events: &[String]) -> Vec<Value> {
    let mut run = EventRun::new(p, riders);
    let mut out = Vec::new();
    for event in events {
        run.rate_line(event.as_bytes(), &mut out)
            .expect("writing to a Vec");
    }
    std::str::from_utf8(&out)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("output is JSON"))
        .collect()
}

/// A ride event line on a flat-fare operator.
pub fn ride(id: &str, at: &str, operator: &str, rider: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"{operator}","rider":"{rider}"}}"#
    )
}

/// Rates one ride of `rider` at `at` on the town bus.
pub fn rate_one(p: &Programme, riders: &Riders, at: &str, rider: &str) -> Value {
    rate(p, riders, &[ride("e", at, "town-bus", rider)]).remove(0)
}

pub fn rule_ids(line: &Value) -> Vec<String> {
    line["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("a rated line: {line}"))
        .iter()
        .map(|r| r.as_str().expect("rule ids are strings").to_string())
        .collect()
}

pub fn pays(line: &Value) -> u64 {
    line["rider_pays"]
        .as_u64()
        .unwrap_or_else(|| panic!("a rated line: {line}"))
}

pub fn error_code(line: &Value) -> &str {
    line["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error line: {line}"))
}
