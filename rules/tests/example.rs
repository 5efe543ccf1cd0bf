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
