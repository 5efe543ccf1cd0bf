//! The OpenAPI document against the running service, with schemathesis (PyPI): generated
//! requests (NUL bytes allowed) and every check it has. No answer may be a 5xx or differ from
//! what the document says; afterwards the engine still serves and the trial balance holds.
//!
//! schemathesis is a test dependency: `ops/scripts/test` installs it. Without it this test fails
//! rather than skips, so a machine that can't run it is noticed. `KANJO_SCHEMATHESIS_EXAMPLES`
//! raises the examples per operation for a longer run.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, TempDir, array_body, kanjo, licence_returned_rider, topup};

/// Examples per operation: the whole test stays well under two minutes on two cores.
const EXAMPLES_PER_OPERATION: u32 = 25;
/// Fixed, so a failure can be replayed.
const SEED: &str = "14";
/// Printed from schemathesis's output when it fails.
const OUTPUT_TAIL_BYTES: usize = 12 * 1024;

fn schemathesis_version() -> String {
    match Command::new("st").arg("--version").output() {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
        other => panic!(
            "schemathesis is not installed (`st --version`: {other:?}); \
             `pip install schemathesis`, or run the suite with ops/scripts/test, which installs it"
        ),
    }
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(OUTPUT_TAIL_BYTES);
    let start = (start..text.len())
        .find(|&index| text.is_char_boundary(index))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

/// Some state to find: riders, top-ups, rides, so that lookups meet real accounts too.
fn seed(server: &Server) {
    let riders = array_body(&[licence_returned_rider("r-1"), licence_returned_rider("r-2")]);
    assert_eq!(server.post("/v1/riders", &riders).status, 200);
    let events = array_body(&[
        topup("seed-1", "r-1", "JPY", 2_000, "2026-11-26T07:00:00+09:00"),
        common::town_bus_wallet_ride("seed-2", "r-1", "2026-11-26T07:30:00+09:00"),
        common::grant("seed-3", "r-2", "muro-pt", 10, "2026-11-26T08:00:00+09:00"),
    ]);
    assert_eq!(server.post("/v1/events", &events).status, 200);
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    let version = schemathesis_version();
    let dir = TempDir::new("schemathesis");
    let data = dir.join("store");
    let data = data.to_str().expect("a UTF-8 path");
    let server = Server::start(&["--data", data]);
    seed(&server);
    // One key for the whole run: schemathesis sends it on every request it generates.
    let town_admin = common::key_for(server.addr, "town-admin").expect("a town-admin key");

    let examples = std::env::var("KANJO_SCHEMATHESIS_EXAMPLES")
        .ok()
        .and_then(|text| text.parse::<u32>().ok())
        .unwrap_or(EXAMPLES_PER_OPERATION);
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let output = Command::new("st")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("http://{}/openapi.json", server.addr))
        .args(["--header", &format!("Authorization: Bearer {town_admin}")])
        .args(["--checks", "all"])
        .args(["--generation-allow-x00", "true"])
        .args(["--seed", SEED])
        .args(["--max-examples", &examples.to_string()])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: hypothesis's lambda descriptions race in CPython 3.11's `ast` with two.
        .args(["--workers", "1"])
        .args(["--request-timeout", "30"])
        .args(["--generation-database", "none"])
        .arg("--no-color")
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    assert!(
        output.status.success(),
        "{version} found answers the document does not describe ({:?}):\n{}\n{}\nserver log:\n{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr),
        server.log()
    );

    // Still serving, and nothing it was sent unbalanced the books.
    let health = server.get("/healthz");
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["status"], "ok");
    let after = server.post(
        "/v1/events",
        &array_body(&[topup(
            "after-1",
            "r-2",
            "JPY",
            100,
            "2026-11-26T09:00:00+09:00",
        )]),
    );
    assert_eq!(after.json()["results"][0]["status"], "accepted");
    let trial_balance = kanjo(&["report", "trial-balance", "--data", data]);
    assert!(
        trial_balance.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&trial_balance.stdout),
        String::from_utf8_lossy(&trial_balance.stderr)
    );
    assert!(String::from_utf8_lossy(&trial_balance.stdout).contains("balanced"));
}
