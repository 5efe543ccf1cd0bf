//! Issue 14, item 3: what kanjo must never store, end to end through `kanjo serve`, `kanjo import`
//! and `kanjo migrate`. Every refused or dropped value is looked for, byte for byte, in the store's
//! files afterwards (what `grep -a` would find).

mod common;

use std::str::FromStr;

use common::{Server, TempDir, kanjo, programme_path, topup};
use kanjo_engine::store::testdb::TestDatabase;
use serde_json::{Value, json};

/// How long `kanjo serve` may take to drain and exit after SIGINT.
const SHUTDOWN_TIMEOUT_MS: u64 = 30_000;

/// Every byte of every file in the store directory (database, WAL, lock).
fn store_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the store directory") {
        let path = entry.expect("a store file").path();
        if path.is_file() {
            stored.extend(std::fs::read(&path).expect("read a store file"));
        }
    }
    assert!(!stored.is_empty(), "the store wrote something");
    stored
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn ndjson(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn rider_results(server: &Server, records: &[Value]) -> Vec<Value> {
    let response = server.post("/v1/riders", &ndjson(records));
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["results"]
        .as_array()
        .expect("results")
        .clone()
}

fn event_results(server: &Server, events: &[Value]) -> Vec<Value> {
    let response = server.post("/v1/events", &ndjson(events));
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["results"]
        .as_array()
        .expect("results")
        .clone()
}

/// Starts a server on a fresh SQLite store, runs `use_it`, stops it gracefully and returns the
/// store's bytes and the server's log.
fn with_server(label: &str, use_it: impl FnOnce(&Server)) -> (Vec<u8>, String) {
    let dir = TempDir::new(label);
    let data = dir.join("store");
    let server = Server::start(&["--data", data.to_str().expect("a UTF-8 path")]);
    use_it(&server);
    let log = server.log();
    let status = server.interrupt(SHUTDOWN_TIMEOUT_MS);
    assert!(status.success(), "kanjo serve exits cleanly: {status:?}");
    (store_bytes(&data), log)
}

const TWELVE_DIGIT_IDS: [&str; 3] = [
    "r-123456789012",
    "1234.5678.9012",
    "１２３４５６７８９０１２",
];

#[test]
fn rider_ids_holding_twelve_digits_are_refused_in_records_and_events() {
    let (stored, _) = with_server("privacy-ids", |server| {
        let records: Vec<Value> = TWELVE_DIGIT_IDS
            .iter()
            .map(|id| json!({"rider": id, "birth_date": "1950-01-01"}))
            .chain([json!({"rider": "r-ok", "birth_date": "1950-01-01"})])
            .collect();
        let results = rider_results(server, &records);
        let status: Vec<&Value> = results.iter().map(|result| &result["status"]).collect();
        assert_eq!(
            status,
            ["rejected", "rejected", "rejected", "accepted"],
            "{results:?}"
        );
        for result in &results[..3] {
            assert_eq!(result["error"]["code"], "bad_rider", "{result}");
            assert_eq!(
                result["rider"],
                Value::Null,
                "the id is not repeated: {result}"
            );
        }

        let events: Vec<Value> = TWELVE_DIGIT_IDS
            .iter()
            .enumerate()
            .map(|(n, id)| {
                topup(
                    &format!("t-{n}"),
                    id,
                    "JPY",
                    100,
                    "2026-11-26T07:00:00+09:00",
                )
            })
            .chain([topup(
                "t-ok",
                "r-ok",
                "JPY",
                100,
                "2026-11-26T07:00:00+09:00",
            )])
            .collect();
        let results = event_results(server, &events);
        let codes: Vec<&str> = results
            .iter()
            .map(|result| {
                result["error"]["code"]
                    .as_str()
                    .or(result["status"].as_str())
                    .expect("a status")
            })
            .collect();
        assert_eq!(
            codes,
            ["bad_event", "bad_event", "bad_event", "accepted"],
            "{results:?}"
        );
    });
    for secret in ["123456789012", "5678.9012", "５６７８９０１２"] {
        assert!(!holds(&stored, secret), "{secret} is in the store");
    }
    assert!(holds(&stored, "r-ok"), "the good rider is stored");
}

#[test]
fn my_number_card_given_as_a_json_number_is_refused() {
    let (stored, _) = with_server("privacy-number", |server| {
        let results = rider_results(
            server,
            &[
                json!({"rider": "r-card", "birth_date": "1950-01-01", "my_number_card": 123456789012u64}),
            ],
        );
        assert_eq!(results[0]["status"], "rejected", "{results:?}");
        assert_eq!(results[0]["error"]["code"], "bad_rider");
        let message = results[0]["error"]["message"].as_str().expect("a message");
        assert!(message.contains("my_number_card"), "{message}");
        assert!(!message.contains("123456789012"), "{message}");
    });
    assert!(!holds(&stored, "123456789012"));
    assert!(!holds(&stored, "r-card"));
}

#[test]
fn a_my_number_nested_in_another_object_is_refused() {
    let (stored, _) = with_server("privacy-nested", |server| {
        let results = rider_results(
            server,
            &[
                json!({"rider": "r-nest", "extra": {"my_number": "123456789012"}}),
                json!({"rider": "r-deep", "extra": {"list": [{"note": "1234 5678 9012"}]}}),
            ],
        );
        for result in &results {
            assert_eq!(result["status"], "rejected", "{result}");
        }
        assert!(
            results[0]["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("extra.my_number")),
            "{}",
            results[0]
        );
    });
    for secret in ["123456789012", "1234 5678 9012", "r-nest", "r-deep"] {
        assert!(!holds(&stored, secret), "{secret} is in the store");
    }
}

#[test]
fn ballot_content_is_refused_under_any_listed_name() {
    let (stored, _) = with_server("privacy-ballot", |server| {
        let results = rider_results(
            server,
            &[
                json!({"rider": "r-v1", "votes": "candidate A"}),
                json!({"rider": "r-v2", "Ballot-Content": "candidate B"}),
                json!({"rider": "r-v3", "投票内容": "candidate C"}),
                json!({"rider": "r-v4", "ＰＩＮ": "4321"}),
            ],
        );
        for result in &results {
            assert_eq!(result["status"], "rejected", "{result}");
            assert_eq!(result["error"]["code"], "bad_rider", "{result}");
        }
    });
    for secret in ["candidate", "4321", "r-v1", "r-v4"] {
        assert!(!holds(&stored, secret), "{secret} is in the store");
    }
}

#[test]
fn unknown_fields_are_dropped_named_and_never_stored_or_logged() {
    let (stored, log) = with_server("privacy-unknown", |server| {
        let results = rider_results(
            server,
            &[json!({
                "rider": "r-known",
                "birth_date": "1950-01-01",
                "residence": "012050",
                "favourite_colour": "ZebraMarkerOne",
                "extra": {"nested": {"deeper": ["ZebraMarkerTwo"]}},
                "padding": "Z".repeat(20_000),
            })],
        );
        assert_eq!(results[0]["status"], "accepted", "{results:?}");
        assert_eq!(
            results[0]["ignored_fields"],
            json!(["extra", "favourite_colour", "padding"]),
            "{results:?}"
        );
        // The known fields are used: a resident with a wallet rides the town bus.
        event_results(
            server,
            &[topup(
                "u-1",
                "r-known",
                "JPY",
                500,
                "2026-11-26T07:00:00+09:00",
            )],
        );
    });
    for marker in [
        "favourite_colour",
        "ZebraMarkerOne",
        "extra",
        "nested",
        "ZebraMarkerTwo",
        "padding",
        "ZZZZZZZZ",
    ] {
        assert!(!holds(&stored, marker), "{marker} is in the store");
        assert!(!log.contains(marker), "{marker} is in the log:\n{log}");
    }
    assert!(holds(&stored, "r-known") && holds(&stored, "012050"));
}

#[test]
fn kanjo_import_answers_name_the_ignored_fields() {
    let dir = TempDir::new("privacy-import");
    let riders = dir.join("riders.ndjson");
    std::fs::write(
        &riders,
        ndjson(&[
            json!({"rider": "r-i1", "birth_date": "1950-01-01", "hobby": "go"}),
            json!({"rider": "r-i2", "my_number": "123456789012"}),
            json!({"rider": "r-i3", "birth_date": "1950-01-01"}),
        ]),
    )
    .expect("write the riders file");
    let data = dir.join("store");
    let output = kanjo(&[
        "import",
        "--data",
        data.to_str().expect("a UTF-8 path"),
        "--programme",
        programme_path().to_str().expect("a UTF-8 path"),
        "--riders",
        riders.to_str().expect("a UTF-8 path"),
        "--answers",
    ]);
    assert!(output.status.success(), "{output:?}");
    // Rider answers go to stderr: stdout is one answer per event (spec/purchases.md).
    assert!(output.stdout.is_empty(), "{output:?}");
    let answers: Vec<Value> = String::from_utf8(output.stderr)
        .expect("UTF-8 answers")
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("an NDJSON answer"))
        .collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(
        answers[0],
        json!({"rider": "r-i1", "status": "accepted", "ignored_fields": ["hobby"]})
    );
    assert_eq!(answers[1]["status"], "rejected");
    assert_eq!(answers[1]["error"]["code"], "bad_rider");
    assert_eq!(answers[2], json!({"rider": "r-i3", "status": "accepted"}));
    let stored = store_bytes(&data);
    assert!(!holds(&stored, "hobby") && !holds(&stored, "123456789012"));
}

/// `kanjo migrate` names the database it works on, in its output and in its errors, without the
/// password, in both forms PostgreSQL takes.
#[test]
fn kanjo_migrate_never_prints_a_password() {
    const PASSWORD: &str = "Pw0rdMarker";
    let db = TestDatabase::create_unmigrated().expect("PostgreSQL test database");
    let config = tokio_postgres::Config::from_str(db.url()).expect("the test URL parses");
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP test server, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    // Trust authentication: the server never asks for the password, so any will do.
    let key_value = format!(
        "host={host} port={port} user={user} password={PASSWORD} dbname={}",
        db.name()
    );
    let url_form = format!("postgres://{user}:{PASSWORD}@{host}:{port}/{}", db.name());
    for target in [&key_value, &url_form] {
        for run in ["applies", "up to date"] {
            let output = kanjo(&["migrate", "--database-url", target]);
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(output.status.success(), "{run}: {printed}");
            assert!(!printed.contains(PASSWORD), "{run}: {printed}");
        }
    }
    let output = kanjo(&["migrate", "--database-url", &key_value]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("password=***"), "{printed}");

    // Unreachable: the error names the database, still without the password.
    for target in [
        format!("host={host} port=1 user={user} password={PASSWORD} dbname=x connect_timeout=2"),
        format!("postgres://{user}:{PASSWORD}@{host}:1/x?connect_timeout=2"),
    ] {
        let output = kanjo(&["migrate", "--database-url", &target]);
        let printed = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{printed}");
        assert!(printed.contains("***"), "{printed}");
        assert!(!printed.contains(PASSWORD), "{printed}");
    }
}
