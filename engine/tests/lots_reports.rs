//! `kanjo report expiry` and `kanjo report breakage` as a town runs them: on a store, after
//! `kanjo import`, in another process that replays the log.
//!
//! Programme: the demo's, with `bus-pt` lapsing 10 days after each grant.
//! - g-1: 50 bus-pt on 1 November 10:00 JST, usable through 11 November 09:59:59 (last day 11-11);
//! - g-2: 30 bus-pt on 8 November 10:00 JST, last usable day 18 November;
//! - g-3 on 12 November moves the event clock past g-1's end: its 50 lapse to `expired:bus-pt`
//!   in fiscal year 2026; g-2's 30 are still to come.

mod common;

use common::{TempDir, grant, kanjo};
use serde_json::{Value, json};

/// The demo programme with `bus-pt` expiring, its GTFS path made absolute for the copy.
fn expiring_programme(dir: &TempDir) -> String {
    let text = common::portable_programme_text().replace(
        "code = \"bus-pt\"\nkind = \"points\"\n",
        "code = \"bus-pt\"\nkind = \"points\"\nexpires_after_days = 10\n",
    );
    assert!(
        text.contains("expires_after_days = 10"),
        "the demo still has bus-pt"
    );
    let path = dir.join("programme.toml");
    std::fs::write(&path, text).expect("write the programme");
    path.to_str().expect("UTF-8").to_owned()
}

fn run_json(args: &[&str]) -> Value {
    serde_json::from_slice(&common::kanjo_ok(args)).expect("JSON")
}

#[test]
fn expiry_shows_what_lapses_per_day_and_breakage_what_lapsed_per_fiscal_year() {
    let dir = TempDir::new("lots-reports");
    let programme = expiring_programme(&dir);
    let data = dir.join("data");
    let data = data.to_str().expect("UTF-8");
    let events: Vec<String> = [
        grant("g-1", "r-1", "bus-pt", 50, "2026-11-01T10:00:00+09:00"),
        grant("g-2", "r-1", "bus-pt", 30, "2026-11-08T10:00:00+09:00"),
        grant("g-3", "r-2", "bus-pt", 5, "2026-11-12T10:00:00+09:00"),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    let file = dir.join("events.ndjson");
    std::fs::write(&file, events.join("\n") + "\n").expect("write events");
    let answers = kanjo(&[
        "import",
        "--data",
        data,
        "--programme",
        &programme,
        "--answers",
        file.to_str().unwrap(),
    ]);
    assert!(
        answers.status.success(),
        "{}",
        String::from_utf8_lossy(&answers.stderr)
    );
    let accepted = String::from_utf8_lossy(&answers.stdout)
        .matches("\"accepted\"")
        .count();
    assert_eq!(accepted, 3, "{}", String::from_utf8_lossy(&answers.stdout));

    let expiry = run_json(&[
        "report",
        "expiry",
        "--json",
        "--data",
        data,
        "--asset",
        "bus-pt",
        "--within-days",
        "30",
        "--from",
        "2026-11-12T12:00:00+09:00",
    ]);
    assert_eq!(expiry["asset"], "bus-pt");
    let days: Vec<(String, u64)> = expiry["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|day| {
            (
                day["last_day"].as_str().unwrap().to_owned(),
                day["amount_minor"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [("2026-11-18".to_owned(), 30), ("2026-11-22".to_owned(), 5)],
        "g-1 lapsed already; g-2 and g-3 lapse on their last days"
    );
    assert_eq!(expiry["total_minor"], 35);

    let breakage = run_json(&[
        "report", "breakage", "--json", "--data", data, "--asset", "bus-pt",
    ]);
    let years = breakage["years"].as_array().expect("years");
    assert_eq!(years.len(), 1, "{breakage}");
    assert_eq!(years[0]["fiscal_year"], 2026);
    assert_eq!(years[0]["asset"], "bus-pt");
    assert_eq!(years[0]["expired_minor"], json!(50));

    let text = kanjo(&["report", "breakage", "--data", data]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("失効額") && text.contains("50"), "{text}");
}
