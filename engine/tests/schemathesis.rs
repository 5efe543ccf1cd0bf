//! The OpenAPI document against the running service, with schemathesis (PyPI): generated
//! requests (NUL bytes allowed) and every check it has, once per role, each run sending that
//! role's key (issue 11), so that the 403s of every scope and the answers each role is allowed
//! are all checked against the document. No answer may be a 5xx or differ from what the
//! document says; afterwards the engine still serves and the trial balance holds. Every
//! operation that needs a key documents 401, 403 and 429, and the document names its security
//! scheme.
//!
//! schemathesis is a test dependency: `ops/scripts/test` installs it. Without it this test fails
//! rather than skips, so a machine that can't run it is noticed. `KANJO_SCHEMATHESIS_EXAMPLES`
//! raises the examples per operation for a longer run.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, TempDir, array_body, kanjo, licence_returned_rider, topup};
use serde_json::{Value, json};

/// One schemathesis run per role, with its examples per operation, in two lanes that run side by
/// side (separate schemathesis processes; each keeps one worker). The town-admin, who may write
/// the most, gets the most examples; the other roles are refused most operations (403), so fewer
/// examples cover them. Measured on the shared 2-core machine (other builds running): one lane
/// after the other with 25/8/8/5/5/5/5, 443 s; these two lanes, 122 s in all, about what the
/// single town-admin run took before.
const ROLE_LANES: [&[(&str, u32)]; 2] = [
    &[
        ("town-admin", 25),
        ("bank:default", 4),
        ("election-office:station-012", 4),
    ],
    &[
        ("clerk", 6),
        ("auditor", 6),
        ("operator:town-bus", 4),
        ("shop:yakitori-ippei", 4),
    ],
];
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

/// One schemathesis run with this bearer token and examples per operation; fails the test with
/// schemathesis's output if it found anything.
fn run_schemathesis(server: &Server, dir: &TempDir, role: &str, token: &str, examples: u32) {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let output = Command::new("st")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("http://{}/openapi.json", server.addr))
        .args(["--header", &format!("Authorization: Bearer {token}")])
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
        "schemathesis as {role} found answers the document does not describe ({:?}):\n{}\n{}\nserver log:\n{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr),
        server.log()
    );
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    let version = schemathesis_version();
    let dir = TempDir::new("schemathesis");
    let data = dir.join("store");
    let data = data.to_str().expect("a UTF-8 path");
    let server = Server::start(&["--data", data]);
    seed(&server);

    let examples_override = std::env::var("KANJO_SCHEMATHESIS_EXAMPLES")
        .ok()
        .and_then(|text| text.parse::<u32>().ok());
    let examples_of = |examples: u32| examples_override.unwrap_or(examples);
    // One key per run, made before the lanes start: schemathesis sends it on every request.
    let tokens: Vec<Vec<String>> = ROLE_LANES
        .iter()
        .map(|lane| {
            lane.iter()
                .map(|(role, _)| common::key_for(server.addr, role).expect("a key for the role"))
                .collect()
        })
        .collect();
    let suite_started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for (lane, lane_tokens) in ROLE_LANES.iter().zip(&tokens) {
            let (server, dir) = (&server, &dir);
            let version = &version;
            scope.spawn(move || {
                for ((role, examples), token) in lane.iter().zip(lane_tokens) {
                    let started = std::time::Instant::now();
                    run_schemathesis(server, dir, role, token, examples_of(*examples));
                    eprintln!(
                        "{version} as {role}: {} examples per operation, {:.1} s",
                        examples_of(*examples),
                        started.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    eprintln!(
        "schemathesis, every role: {:.1} s",
        suite_started.elapsed().as_secs_f64()
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

/// Every operation behind a key says so (the document's bearer scheme, not opted out with
/// `security: []`) and documents 401, 403 and 429; the open ones are exactly `/healthz`,
/// `/openapi.json` and the sign-in page.
#[test]
fn every_operation_behind_a_key_documents_401_403_and_429() {
    let document: Value =
        serde_json::from_str(include_str!("../src/openapi.json")).expect("the OpenAPI document");
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(document["security"], json!([{"bearer": []}]));
    let mut open = Vec::new();
    let mut missing = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let security = operation.get("security").unwrap_or(&document["security"]);
            if security == &json!([]) {
                open.push(format!("{} {path}", method.to_uppercase()));
                continue;
            }
            for status in ["401", "403", "429"] {
                if operation["responses"].get(status).is_none() {
                    missing.push(format!("{} {path}: {status}", method.to_uppercase()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
    open.retain(|operation| {
        !operation.starts_with("GET /finance/login")
            && !operation.starts_with("POST /finance/login")
    });
    assert_eq!(
        open,
        ["GET /healthz", "GET /openapi.json"],
        "operations open without a key"
    );
}
