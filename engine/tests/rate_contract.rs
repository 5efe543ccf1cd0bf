//! The `kanjo rate` contract (spec/rating.md), through the built binary: the example
//! reproduces as JSON values per line (error codes compared, messages free), a second run is
//! byte-identical, unreadable inputs and invalid programmes exit non-zero with a message on
//! stderr, and rejected events still exit 0.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example(name: &str) -> PathBuf {
    repo().join("spec/example").join(name)
}

fn kanjo_rate(programme: &Path, riders: &Path, events: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kanjo"))
        .arg("rate")
        .arg("--programme")
        .arg(programme)
        .arg("--riders")
        .arg(riders)
        .arg("--events")
        .arg(events)
        .output()
        .expect("the kanjo binary runs")
}

/// Output lines as JSON values, each error's free-text message blanked.
fn comparable(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if let Some(error) = value.get_mut("error").and_then(Value::as_object_mut) {
                assert!(
                    error.get("message").is_some_and(Value::is_string),
                    "an error has a message: {line}"
                );
                error.insert("message".into(), Value::Null);
            }
            value
        })
        .collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kanjo-rate-contract-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn the_example_prints_expected_ndjson() {
    let output = kanjo_rate(
        &example("programme.toml"),
        &example("riders.ndjson"),
        &example("events.ndjson"),
    );
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got = comparable(std::str::from_utf8(&output.stdout).expect("utf-8 output"));
    let expected =
        comparable(&std::fs::read_to_string(example("expected.ndjson")).expect("expected file"));
    assert_eq!(got.len(), expected.len(), "one line per event");
    for (line_no, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, expected, "line {}", line_no + 1);
    }
}

#[test]
fn the_same_inputs_give_byte_identical_output() {
    let run = || {
        kanjo_rate(
            &example("programme.toml"),
            &example("riders.ndjson"),
            &example("events.ndjson"),
        )
        .stdout
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

#[test]
fn a_missing_file_exits_non_zero_with_a_message() {
    let missing = Path::new("/nonexistent/kanjo-contract/file");
    for (programme, riders, events) in [
        (
            missing.to_path_buf(),
            example("riders.ndjson"),
            example("events.ndjson"),
        ),
        (
            example("programme.toml"),
            missing.to_path_buf(),
            example("events.ndjson"),
        ),
        (
            example("programme.toml"),
            example("riders.ndjson"),
            missing.to_path_buf(),
        ),
    ] {
        let output = kanjo_rate(&programme, &riders, &events);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("/nonexistent/kanjo-contract/file"),
            "stderr names the file: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}

/// The example programme with `from` replaced by `to`, written next to a copy of the feed
/// path so relative GTFS folders still resolve.
fn broken_programme(tag: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(example("programme.toml")).expect("example programme");
    assert!(text.contains(from), "the example contains {from:?}");
    let feed = repo().join("data/gtfs-jp/donan-bus-muroran");
    let text = text
        .replace(
            "../../data/gtfs-jp/donan-bus-muroran",
            &feed.display().to_string(),
        )
        .replacen(from, to, 1);
    let path = temp_dir(tag).join("programme.toml");
    std::fs::write(&path, text).expect("write programme");
    path
}

#[test]
fn invalid_programmes_exit_non_zero_naming_the_problem() {
    let cases = [
        (
            "kind",
            r#"kind = "daily_cap""#,
            r#"kind = "hourly_cap""#,
            "hourly_cap",
        ),
        (
            "town-code",
            r#"code = "012050""#,
            r#"code = "012059""#,
            "012059",
        ),
        (
            "resident-code",
            r#"resident_of = "012050" }"#,
            r#"resident_of = "012051" }"#,
            "012051",
        ),
        (
            "budget",
            r#"funded_by = "welfare""#,
            r#"funded_by = "charity""#,
            "charity",
        ),
        ("gtfs", "donan-bus-muroran", "no-such-feed", "no-such-feed"),
        (
            "typo",
            "eligible = { disability",
            "elegible = { disability",
            "elegible",
        ),
    ];
    for (tag, from, to, needle) in cases {
        let programme = broken_programme(tag, from, to);
        let output = kanjo_rate(
            &programme,
            &example("riders.ndjson"),
            &example("events.ndjson"),
        );
        assert!(!output.status.success(), "{tag}: exit status");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(needle),
            "{tag}: stderr names {needle}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{tag}: no output");
    }
}

#[test]
fn rejected_and_unreadable_event_lines_still_exit_zero_with_one_line_each() {
    let dir = temp_dir("events");
    let events = dir.join("events.ndjson");
    std::fs::write(
        &events,
        "not json at all\n\
         {\"id\":\"a\",\"type\":\"ride\",\"at\":\"2026-11-25T09:00:00+09:00\",\"operator\":\"town-bus\",\"rider\":\"r-senior\"}\n\
         {\"id\":\"a\",\"type\":\"ride\",\"at\":\"2026-11-25T09:00:00+09:00\",\"operator\":\"town-bus\"}\n\
         {\"id\":\"b\",\"type\":\"ride\",\"at\":\"2026-11-25T09:00:00+09:00\",\"operator\":\"donan-bus\",\"route\":\"100100\",\"from\":\"0122_A\",\"to\":\"0123_A\"}\n",
    )
    .expect("write events");
    let output = kanjo_rate(
        &example("programme.toml"),
        &example("riders.ndjson"),
        &events,
    );
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = comparable(std::str::from_utf8(&output.stdout).expect("utf-8"));
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], Value::Null);
    assert_eq!(lines[0]["error"]["code"], "bad_event");
    assert_eq!(lines[1]["rules"][0], "senior-free");
    assert_eq!(lines[2]["error"]["code"], "duplicate_id");
    assert_eq!(lines[3]["fare"], 210);
}

/// The bytes themselves are part of the contract for kanjo's own users: field order, number
/// spelling and messages. `fixtures/rate-example.stdout` is what this build printed when the
/// fixture was taken; a change to it must be deliberate (regenerate it with the command above).
#[test]
fn the_example_output_is_byte_identical_to_the_saved_output() {
    let output = kanjo_rate(
        &example("programme.toml"),
        &example("riders.ndjson"),
        &example("events.ndjson"),
    );
    assert!(output.status.success());
    let saved = std::fs::read(repo().join("engine/tests/fixtures/rate-example.stdout"))
        .expect("the saved output");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&saved),
        "kanjo rate's bytes changed on spec/example"
    );
    assert_eq!(output.stdout, saved);
}
