//! spec/example reproduces through `rate_files`: the same JSON values per line, error codes
//! compared and error messages free.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An error's message is free text: blank it on both sides.
fn comparable(mut line: Value) -> Value {
    if let Some(error) = line.get_mut("error").and_then(Value::as_object_mut) {
        error.insert("message".into(), Value::Null);
    }
    line
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| comparable(serde_json::from_str(l).expect("output lines are JSON")))
        .collect()
}

fn run_example() -> Vec<u8> {
    let example = repo().join("spec/example");
    let mut out = Vec::new();
    kanjo_rules::rate_files(
        &example.join("programme.toml"),
        &example.join("riders.ndjson"),
        &example.join("events.ndjson"),
        &mut out,
    )
    .expect("the example is valid");
    out
}

#[test]
fn the_spec_example_reproduces_expected_ndjson() {
    let out = run_example();
    let got = parse_lines(std::str::from_utf8(&out).expect("utf-8"));
    let expected_text = std::fs::read_to_string(repo().join("spec/example/expected.ndjson"))
        .expect("expected file");
    let expected = parse_lines(&expected_text);
    assert_eq!(got.len(), expected.len(), "one output line per event");
    for (i, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, expected, "line {}", i + 1);
    }
}

#[test]
fn a_second_run_is_byte_identical() {
    assert_eq!(run_example(), run_example());
}

fn example_path(name: &str) -> PathBuf {
    repo().join("spec/example").join(name)
}

#[test]
fn a_missing_input_file_fails_the_run_naming_the_file() {
    let missing = Path::new("/nonexistent/kanjo/events.ndjson");
    for (programme, riders, events) in [
        (
            missing.to_path_buf(),
            example_path("riders.ndjson"),
            example_path("events.ndjson"),
        ),
        (
            example_path("programme.toml"),
            missing.to_path_buf(),
            example_path("events.ndjson"),
        ),
        (
            example_path("programme.toml"),
            example_path("riders.ndjson"),
            missing.to_path_buf(),
        ),
    ] {
        let mut out = Vec::new();
        let error = kanjo_rules::rate_files(&programme, &riders, &events, &mut out)
            .expect_err("missing file");
        assert!(error.to_string().contains("/nonexistent/kanjo/"), "{error}");
        assert!(
            out.is_empty(),
            "nothing is printed before the inputs are known good"
        );
    }
}

#[test]
fn a_riders_line_that_is_not_a_rider_record_fails_the_run_naming_file_and_line() {
    let dir = std::env::temp_dir().join(format!("kanjo-rules-riders-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let riders = dir.join("riders.ndjson");
    for (body, needle) in [
        (
            "{\"rider\":\"a\"}\n\n{\"rider\":\"b\",\"birth_date\":\"1950-02-30\"}\n",
            "line 3",
        ),
        ("{\"rider\":\"a\"}\nnot json\n", "line 2"),
        ("{\"rider\":\"123456789012\"}\n", "My Number"),
    ] {
        std::fs::write(&riders, body).expect("write");
        let mut out = Vec::new();
        let error = kanjo_rules::rate_files(
            &example_path("programme.toml"),
            &riders,
            &example_path("events.ndjson"),
            &mut out,
        )
        .expect_err("bad riders file");
        let message = error.to_string();
        assert!(
            message.contains("riders.ndjson") && message.contains(needle),
            "{message}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warnings_go_to_their_own_writer_not_the_output() {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    kanjo_rules::rate_files_reporting(
        &example_path("programme.toml"),
        &example_path("riders.ndjson"),
        &example_path("events.ndjson"),
        &mut out,
        &mut warnings,
    )
    .expect("valid");
    assert_eq!(out, run_example());
    assert!(
        String::from_utf8(warnings)
            .expect("utf-8")
            .contains("ambiguous fare")
    );
}
