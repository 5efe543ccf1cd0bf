//! Issue 14, at the edge: no single request may stop, jam or poison the engine.
//!
//! - Whatever the log can't hold (a NUL or an over-long id, an over-size body) is refused alone
//!   where it is parsed, and once more before a batch is sealed, so the good items beside it
//!   commit and the engine keeps serving.
//! - A malformed element of a JSON array is refused alone, like a bad NDJSON line.
//! - Every answer is one the OpenAPI document describes, and every error is JSON.
//! - Property: whatever the parsers accept becomes a log record that passes `LogRecord::validate`.

mod common;

use common::{Response, Server, TempDir, array_body, licence_returned_rider, sqlite, topup};
use kanjo_engine::body::ELEMENT_DEPTH_MAX;
use kanjo_engine::event::{CANONICAL_EVENT_BYTES_MAX, Event, EventKind, Topup, parse_batch};
use kanjo_engine::machine::{Machine, Prepared};
use kanjo_engine::riders::parse_riders;
use kanjo_engine::store::{
    EntryKind, LOG_ENTRY_BODY_BYTES_MAX, LOG_ENTRY_ID_BYTES_MAX, LogEntry, LogRecord,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const AT: &str = "2026-11-26T07:00:00+09:00";

fn serve(dir: &TempDir) -> Server {
    let data = dir.join("store");
    Server::start(&["--data", data.to_str().expect("a UTF-8 path")])
}

fn results(response: &Response) -> Vec<Value> {
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["results"]
        .as_array()
        .expect("a results array")
        .clone()
}

fn statuses(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|result| result["status"].as_str().expect("a status"))
        .collect()
}

/// The engine still takes and answers ordinary work, `/healthz` included.
fn assert_serving(server: &Server, probe_id: &str) {
    let health = server.get("/healthz");
    assert_eq!(health.status, 200, "{}\n{}", health.body, server.log());
    assert_eq!(health.json()["status"], "ok");
    let probe = results(&server.post(
        "/v1/events",
        &array_body(&[topup(probe_id, "r-probe", "JPY", 100, AT)]),
    ));
    assert_eq!(statuses(&probe), ["accepted"], "{probe:?}");
}

// ---- Item 1: what the log can't hold is refused alone at parse time ----

#[test]
fn an_event_id_with_nul_is_refused_alone_and_the_batch_and_engine_go_on() {
    let dir = TempDir::new("edge-nul-id");
    let server = serve(&dir);
    let body = array_body(&[
        topup("good-1", "r-1", "JPY", 100, AT),
        topup("a\u{0}b", "r-1", "JPY", 1_000, AT),
        topup(
            &"x".repeat(LOG_ENTRY_ID_BYTES_MAX + 1),
            "r-1",
            "JPY",
            1_000,
            AT,
        ),
        topup("good-2", "r-1", "JPY", 200, AT),
    ]);
    let answers = results(&server.post("/v1/events", &body));
    assert_eq!(
        statuses(&answers),
        ["accepted", "rejected", "rejected", "accepted"]
    );
    assert_eq!(answers[1]["error"]["code"], "bad_event");
    let message = answers[1]["error"]["message"].as_str().expect("a message");
    assert!(message.contains("NUL"), "{message}");
    let message = answers[2]["error"]["message"].as_str().expect("a message");
    assert!(message.contains("129 bytes"), "{message}");
    assert_eq!(server.balance("rider:r-1:JPY"), 300, "both good top-ups");
    assert_serving(&server, "after-nul-id");
}

#[test]
fn a_rider_record_of_20_kb_is_refused_alone_and_the_engine_goes_on() {
    let dir = TempDir::new("edge-big-rider");
    let server = serve(&dir);
    let mut big_known = licence_returned_rider("r-big");
    big_known["residence"] = json!("0".repeat(20_000));
    let mut big_unknown = licence_returned_rider("r-note");
    big_unknown["note"] = json!("n".repeat(20_000));
    let body = array_body(&[
        licence_returned_rider("r-a"),
        big_known,
        big_unknown,
        licence_returned_rider("r-b"),
    ]);
    let answers = results(&server.post("/v1/riders", &body));
    assert_eq!(answers[0]["status"], "accepted", "{answers:?}");
    assert_eq!(answers[1]["status"], "rejected", "{answers:?}");
    assert_eq!(answers[1]["error"]["code"], "bad_rider");
    // Refused for its size, or stored without the unknown field: either way not a fail-stop.
    assert!(
        ["accepted", "rejected"].contains(&answers[2]["status"].as_str().unwrap_or("")),
        "{answers:?}"
    );
    assert_eq!(answers[3]["status"], "accepted", "{answers:?}");
    assert_serving(&server, "after-big-rider");
}

#[test]
fn a_rider_id_with_nul_is_refused_alone() {
    let dir = TempDir::new("edge-nul-rider");
    let server = serve(&dir);
    let body = array_body(&[
        licence_returned_rider("r\u{0}x"),
        licence_returned_rider("r-c"),
    ]);
    let answers = results(&server.post("/v1/riders", &body));
    assert_eq!(statuses(&answers), ["rejected", "accepted"], "{answers:?}");
    assert_eq!(answers[0]["error"]["code"], "bad_rider");
    let message = answers[0]["error"]["message"].as_str().expect("a message");
    assert!(message.contains("NUL"), "{message}");
    assert_serving(&server, "after-nul-rider");
}

// ---- Pipeline: defence in depth for inputs built in code ----

fn coded_topup(id: &str, rider: &str, amount_minor: u64) -> Event {
    Event {
        id: id.to_owned(),
        at: AT.parse().expect("an instant"),
        kind: EventKind::Topup(Topup {
            rider: rider.to_owned(),
            asset: "JPY".to_owned(),
            amount_minor,
            source: None,
        }),
    }
}

#[test]
fn an_unloggable_item_built_in_code_is_refused_alone_before_its_batch_is_sealed() {
    let dir = TempDir::new("edge-seal");
    let store = sqlite(&dir.join("store"));
    let engine = common::start_engine(store.clone());
    let answers = engine
        .submit(vec![
            coded_topup("coded-1", "r-s", 100),
            coded_topup("nul\u{0}id", "r-s", 1_000),
            coded_topup(&"y".repeat(LOG_ENTRY_ID_BYTES_MAX + 1), "r-s", 1_000),
            coded_topup("coded-2", "r-s", 200),
        ])
        .expect("the batch commits");
    let accepted: Vec<bool> = answers
        .iter()
        .map(|answer| answer.outcome.is_accepted())
        .collect();
    assert_eq!(accepted, [true, false, false, true]);

    let mut oversize = licence_returned_rider("r-oversize");
    oversize["note"] = json!("z".repeat(LOG_ENTRY_BODY_BYTES_MAX));
    let riders: Vec<(String, kanjo_rules::RiderRecord)> =
        [licence_returned_rider("r-ok"), oversize]
            .into_iter()
            .map(|value| {
                let record = serde_json::from_value(value.clone()).expect("a rider record");
                (value.to_string(), record)
            })
            .collect();
    let rider_results = engine
        .submit_riders(riders)
        .expect("queued")
        .blocking_recv()
        .expect("answered")
        .expect("the batch commits");
    assert!(rider_results[0].is_ok(), "{rider_results:?}");
    let refusal = rider_results[1].as_ref().expect_err("refused");
    assert!(refusal.contains("can't be logged"), "{refusal}");

    let later = engine
        .submit(vec![coded_topup("coded-3", "r-s", 400)])
        .expect("the engine still commits");
    assert!(later[0].outcome.is_accepted());
    engine.shutdown();

    // Replay agrees with what was answered: the good items are there, the refused ones never were.
    let engine = common::start_engine(store);
    let (coded, refused, balance) = engine
        .query_blocking(|machine: &Machine| {
            let rider = kanjo_engine::chart::AccountName::Rider {
                rider: "r-s",
                asset: "JPY",
            };
            let balance = machine
                .ledger()
                .account(rider.id())
                .map(|account| account.credits_posted - account.debits_posted);
            (
                machine.outcome("coded-2").is_some(),
                machine.outcome("nul\u{0}id").is_some(),
                balance,
            )
        })
        .expect("a query");
    assert!(coded && !refused);
    assert_eq!(balance, Some(700));
    engine.shutdown();
}

// ---- Item 4: a malformed element of a JSON array costs only itself ----

#[test]
fn a_malformed_element_of_a_json_array_is_refused_alone_at_its_index() {
    let dir = TempDir::new("edge-array");
    let server = serve(&dir);
    let good = |id: &str, amount: u64| topup(id, "r-2", "JPY", amount, AT).to_string();
    let deep = format!(
        "{}{}",
        "[".repeat(ELEMENT_DEPTH_MAX + 1),
        "]".repeat(ELEMENT_DEPTH_MAX + 1)
    );
    let body = format!(
        "[{}, NaN, Infinity, -Infinity, {} garbage, \"a string\", 5, {deep}, {}]",
        good("arr-1", 10),
        good("arr-x", 1_000),
        good("arr-2", 20),
    );
    let answers = results(&server.post("/v1/events", &body));
    let mut expected = vec!["rejected"; 9];
    expected[0] = "accepted";
    expected[8] = "accepted";
    assert_eq!(statuses(&answers), expected, "{answers:?}");
    for answer in &answers[1..8] {
        assert_eq!(answer["error"]["code"], "bad_event", "{answer}");
    }
    assert_eq!(answers[8]["id"], "arr-2");
    assert_eq!(server.balance("rider:r-2:JPY"), 30);
    assert_eq!(server.get("/v1/events/arr-x").status, 404, "never logged");

    // A body that is no array at all is still one 400.
    let broken = server.post("/v1/events", "[{\"id\":\"a\"}, {\"id\":");
    assert_json_error(&broken, 400, "bad_body");
}

// ---- Item 6: every answer is documented, every error is JSON ----

fn openapi() -> Value {
    serde_json::from_str(include_str!("../src/openapi.json")).expect("the OpenAPI document")
}

/// `response` is a JSON error with this status and code, and the document the server serves
/// lists the status for the operation, with the error schema.
fn assert_documented_error(
    server: &Server,
    response: &Response,
    method: &str,
    template: &str,
    status: u16,
    code: &str,
) {
    assert_json_error(response, status, code);
    let document = server.get("/openapi.json").json();
    let answer = &document["paths"][template][method]["responses"][status.to_string()];
    let answer = match answer["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().expect("a reference");
            document["components"]["responses"][name].clone()
        }
        None => answer.clone(),
    };
    assert_eq!(
        answer["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
        "{method} {template} documents {status} as an error: {answer}"
    );
}

fn assert_json_error(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert!(
        response
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    assert_eq!(response.json()["error"]["code"], code, "{}", response.body);
    assert!(response.json()["error"]["message"].is_string());
}

#[test]
fn an_account_id_that_is_no_account_is_a_documented_400() {
    let dir = TempDir::new("edge-account-0");
    let server = serve(&dir);
    let response = server.get("/v1/accounts/0");
    assert_documented_error(
        &server,
        &response,
        "get",
        "/v1/accounts/{id}",
        400,
        "bad_account",
    );
    let response = server.get("/v1/accounts/0/transfers");
    assert_documented_error(
        &server,
        &response,
        "get",
        "/v1/accounts/{id}/transfers",
        400,
        "bad_account",
    );
}

#[test]
fn an_empty_body_is_a_documented_400() {
    let dir = TempDir::new("edge-empty-body");
    let server = serve(&dir);
    for body in ["", "  \n\r\n"] {
        let response = server.post("/v1/events", body);
        assert_documented_error(&server, &response, "post", "/v1/events", 400, "bad_body");
        let response = server.post("/v1/riders", body);
        assert_documented_error(&server, &response, "post", "/v1/riders", 400, "bad_body");
    }
    let document = openapi();
    assert_eq!(
        document["paths"]["/v1/events"]["post"]["requestBody"]["required"],
        true
    );
}

#[test]
fn an_event_lookup_without_an_id_is_a_documented_json_404() {
    let dir = TempDir::new("edge-empty-id");
    let server = serve(&dir);
    let response = server.get("/v1/events/");
    assert_documented_error(
        &server,
        &response,
        "get",
        "/v1/events/{id}",
        404,
        "not_found",
    );
    // An empty segment inside a path is an empty id: no account.
    let response = server.get("/v1/accounts//transfers");
    assert_documented_error(
        &server,
        &response,
        "get",
        "/v1/accounts/{id}/transfers",
        400,
        "bad_account",
    );
    assert_json_error(&server.get("/no/such/route"), 404, "not_found");
}

#[test]
fn a_body_over_the_limit_is_a_documented_json_413() {
    let dir = TempDir::new("edge-413");
    let server = serve(&dir);
    // One byte over: the server reads all of it before it refuses, so the answer is never cut
    // off by a reset.
    let body = " ".repeat(kanjo_engine::api::REQUEST_BODY_BYTES_MAX + 1);
    let response = server.post("/v1/events", &body);
    assert_documented_error(&server, &response, "post", "/v1/events", 413, "too_large");
    assert_serving(&server, "after-413");
}

#[test]
fn a_bad_query_parameter_is_a_documented_json_400() {
    let dir = TempDir::new("edge-query");
    let server = serve(&dir);
    let template = "/v1/accounts/{id}/transfers";
    for query in [
        "limit=abc",
        "after=-1",
        "newest_first=maybe",
        "limit=0",
        "limit=1001",
    ] {
        let response = server.get(&format!("/v1/accounts/rider:r-1:JPY/transfers?{query}"));
        assert_documented_error(&server, &response, "get", template, 400, "bad_query");
    }
    let document = openapi();
    let limit = document["paths"][template]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|parameter| parameter["name"] == "limit")
        .expect("a limit parameter")
        .clone();
    assert_eq!(
        limit["schema"]["maximum"],
        kanjo_engine::api::HISTORY_PAGE_MAX
    );
}

#[test]
fn a_path_that_is_not_utf8_is_a_documented_json_400() {
    let dir = TempDir::new("edge-path");
    let server = serve(&dir);
    let response = server.get("/v1/events/%FF");
    assert_documented_error(
        &server,
        &response,
        "get",
        "/v1/events/{id}",
        400,
        "bad_path",
    );
}

#[test]
fn an_unsupported_method_is_a_json_405_with_allow() {
    let dir = TempDir::new("edge-405");
    let server = serve(&dir);
    let response = common::http(server.addr, "DELETE", "/v1/events", None).expect("an answer");
    assert_json_error(&response, 405, "method_not_allowed");
    assert_eq!(response.header("allow"), Some("POST"));
}

#[test]
fn the_document_states_the_limits_the_parser_enforces() {
    let document = openapi();
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["Event"]["properties"]["id"]["maxLength"],
        LOG_ENTRY_ID_BYTES_MAX
    );
    assert_eq!(
        schemas["Rider"]["properties"]["rider"]["maxLength"],
        LOG_ENTRY_ID_BYTES_MAX
    );
    for path in ["/v1/events", "/v1/riders"] {
        assert_eq!(
            document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["maxItems"],
            kanjo_engine::pipeline::SUBMISSION_EVENTS_MAX,
            "{path}"
        );
    }
}

// ---- Property: what the parsers accept, the log holds ----

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,12}",
        any::<String>(),
        "[a-z]{0,4}\\x00[a-z]{0,4}",
        "\\PC{100,140}",
        "[\\x00-\\x1f\"\\\\]{100,200}",
        Just(String::new()),
    ]
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![3 => text().prop_map(Some), 1 => Just(None)]
}

prop_compose! {
    fn event_json()(
        id in optional_text(),
        kind in prop_oneof![
            Just("ride"), Just("tap"), Just("topup"), Just("grant"), Just("redeem"), Just("teleport")
        ],
        at in prop_oneof![
            Just("2026-11-26T07:00:00+09:00".to_owned()),
            Just("-009999-01-02T01:59:59.999999999Z".to_owned()),
            Just("9999-12-30T22:00:00.999999999Z".to_owned()),
            text(),
        ],
        direction in prop_oneof![Just("on"), Just("off")],
        media in prop_oneof![Just("cash"), Just("wallet"), Just("ic")],
        references in proptest::collection::vec(optional_text(), 10),
        amount in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
        extra in optional_text(),
    ) -> Value {
        let mut event = json!({"type": kind, "at": at, "direction": direction, "media": media});
        if let Some(id) = id {
            event["id"] = json!(id);
        }
        let names = ["operator", "route", "from", "to", "stop", "vehicle", "rider", "asset", "source", "place"];
        for (name, value) in names.iter().zip(references) {
            if let Some(value) = value {
                event[*name] = json!(value);
            }
        }
        if let Some(amount) = amount {
            event["amount"] = json!(amount);
        }
        if let Some(extra) = extra {
            event["note"] = json!(extra);
        }
        event
    }
}

prop_compose! {
    fn rider_json()(
        rider in optional_text(),
        residence in optional_text(),
        extra_bytes in prop_oneof![Just(0usize), 0usize..20_000],
        extra_char in any::<char>(),
    ) -> Value {
        let mut record = json!({"birth_date": "1950-01-01"});
        if let Some(rider) = rider {
            record["rider"] = json!(rider);
        }
        if let Some(residence) = residence {
            record["residence"] = json!(residence);
        }
        if extra_bytes > 0 {
            record["extra"] = json!(extra_char.to_string().repeat(extra_bytes / 4 + 1));
        }
        record
    }
}

/// The entries `pipeline` would seal for these inputs, as one record.
fn record_of(entries: Vec<LogEntry>) -> LogRecord {
    LogRecord {
        seq: 1,
        clock_ns: 1,
        entries,
    }
}

fn event_entries(body: &str) -> Vec<LogEntry> {
    parse_batch(body, kanjo_engine::pipeline::SUBMISSION_EVENTS_MAX)
        .map(|items| {
            items
                .into_iter()
                .filter_map(Result::ok)
                .map(|event| {
                    let prepared = Prepared::new(event);
                    assert!(
                        prepared.canonical.len() <= CANONICAL_EVENT_BYTES_MAX,
                        "{} bytes",
                        prepared.canonical.len()
                    );
                    LogEntry {
                        kind: EntryKind::Event,
                        id: prepared.event.id,
                        body: prepared.canonical.into_bytes(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_event_the_parser_accepts_fits_the_log(events in proptest::collection::vec(event_json(), 1..8)) {
        let array = Value::Array(events.clone()).to_string();
        let ndjson: Vec<String> = events.iter().map(Value::to_string).collect();
        for body in [array, ndjson.join("\n")] {
            let record = record_of(event_entries(&body));
            prop_assert_eq!(record.validate(), Ok(()));
        }
    }

    #[test]
    fn every_rider_record_the_parser_accepts_fits_the_log(riders in proptest::collection::vec(rider_json(), 1..4)) {
        let body = Value::Array(riders).to_string();
        let entries: Vec<LogEntry> = parse_riders(&body)
            .expect("an array")
            .into_iter()
            .filter_map(Result::ok)
            .map(|checked| LogEntry {
                kind: EntryKind::Rider,
                id: checked.record.rider,
                body: checked.canonical.into_bytes(),
            })
            .collect();
        prop_assert_eq!(record_of(entries).validate(), Ok(()));
    }

    #[test]
    fn any_body_is_answered_without_a_panic(body in prop_oneof![
        any::<String>(),
        "\\[[\\[\\]{}\",:a-z0-9 \\\\]{0,64}",
    ]) {
        let _ = parse_batch(&body, 16);
        let _ = parse_riders(&body);
    }
}
