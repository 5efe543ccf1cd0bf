//! Period close and payouts end to end (issue 10): `kanjo import`, `kanjo settle`,
//! `kanjo payout --confirm` on the embedded store, each a separate process, so every answer
//! after the first comes from a replayed log; and `POST /v1/settlements` / `POST /v1/payouts`
//! on `kanjo serve`.

mod common;

use common::{
    Server, TempDir, import_r1, kanjo, licence_returned_rider, ndjson_file, programme_path, topup,
};
use serde_json::{Value, json};

/// Three half-fare wallet rides on the town bus on 26 November, and a ¥1 000 purchase at
/// 室蘭書店 on the 27th.
fn november_events() -> Vec<Value> {
    let ride = |id: &str, at: &str| json!({"id": id, "type": "ride", "at": at, "operator": "town-bus", "rider": "r-1", "media": "wallet"});
    vec![
        topup("t-1", "r-1", "JPY", 5_000, "2026-11-20T09:00:00+09:00"),
        ride("ride-1", "2026-11-26T07:00:00+09:00"),
        ride("ride-2", "2026-11-26T08:00:00+09:00"),
        ride("ride-3", "2026-11-26T18:00:00+09:00"),
        json!({"id": "p-1", "type": "purchase", "at": "2026-11-27T12:00:00+09:00", "shop": "muroran-shoten", "rider": "r-1", "amount": 1000, "pay_with": ["JPY"]}),
    ]
}

fn run_ok(args: &[&str]) -> String {
    String::from_utf8(common::kanjo_ok(args)).expect("UTF-8 output")
}

fn payable(settlement: &Value, party: &str) -> u64 {
    settlement["payables"]
        .as_array()
        .expect("payables")
        .iter()
        .find(|p| p["party"] == party && p["asset"] == "JPY")
        .and_then(|p| p["amount_minor"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_month_is_closed_once_late_rides_are_adjusted_next_month_and_payouts_are_recorded_once() {
    let dir = TempDir::new("settle-cli");
    let programme = programme_path().display().to_string();
    let data = import_r1(&dir, &programme, &november_events());

    // The batch clock is the wall clock: a date after today is refused, so the test closes days
    // that are over whenever it runs.
    let future = kanjo(&["settle", "--data", &data, "--through", "9999-12-31"]);
    assert!(!future.status.success());
    assert!(String::from_utf8_lossy(&future.stderr).contains("period_not_over"));

    let first = run_ok(&["settle", "--data", &data, "--through", "2026-11-27"]);
    let settlement: Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(settlement["id"], "settle-2026-11-27");
    let bus = payable(&settlement, "operator:town-bus");
    assert!(
        bus > 0,
        "half fares owe the town bus a subsidy: {settlement}"
    );
    // ¥1 000 less 室蘭書店's 50 bp fee.
    assert_eq!(payable(&settlement, "shop:muroran-shoten"), 995);

    let again = run_ok(&["settle", "--data", &data, "--through", "2026-11-27"]);
    assert_eq!(
        again, first,
        "the same date answers the same settlement after a replay"
    );

    let late = ndjson_file(
        &dir,
        "late.ndjson",
        &[
            json!({"id": "ride-late", "type": "ride", "at": "2026-11-25T07:00:00+09:00", "operator": "town-bus", "rider": "r-1", "media": "wallet"}),
        ],
    );
    run_ok(&["import", "--data", &data, &late]);
    let december: Value = serde_json::from_str(&run_ok(&[
        "settle",
        "--data",
        &data,
        "--through",
        "2026-11-28",
    ]))
    .expect("JSON");
    let lines = december["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 1, "{december}");
    assert_eq!(lines[0]["day"], "2026-11-25");
    assert_eq!(lines[0]["adjustment"], true);
    assert_eq!(payable(&december, "operator:town-bus"), bus / 3);

    let closed = kanjo(&["settle", "--data", &data, "--through", "2026-11-15"]);
    assert!(!closed.status.success());
    assert!(String::from_utf8_lossy(&closed.stderr).contains("period_closed"));

    let paid: Value = serde_json::from_str(&run_ok(&[
        "payout",
        "--data",
        &data,
        "--settlement",
        "settle-2026-11-27",
        "--confirm",
    ]))
    .expect("JSON");
    assert_eq!(paid.as_array().map(Vec::len), Some(2), "{paid}");
    let none: Value = serde_json::from_str(&run_ok(&[
        "payout",
        "--data",
        &data,
        "--settlement",
        "settle-2026-11-27",
        "--confirm",
    ]))
    .expect("JSON");
    assert_eq!(none, json!([]), "what is paid is not paid twice");
    run_ok(&["report", "trial-balance", "--data", &data]);
}

#[test]
fn the_api_settles_and_records_payouts_and_names_each_refusal() {
    let dir = TempDir::new("settle-api");
    let data = dir.join("data").display().to_string();
    let server = Server::start(&["--data", &data]);
    let body = Value::Array(november_events()[..2].to_vec()).to_string();
    let riders = Value::Array(vec![licence_returned_rider("r-1")]).to_string();
    assert_eq!(server.post("/v1/riders", &riders).status, 200);
    assert_eq!(server.post("/v1/events", &body).status, 200);

    let bad = server.post("/v1/settlements", r#"{"through":"2026-13-01"}"#);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "bad_settlement");

    let future = server.post("/v1/settlements", r#"{"through":"9999-12-31"}"#);
    assert_eq!(future.status, 409);
    assert_eq!(future.json()["error"]["code"], "period_not_over");

    let settled = server.post("/v1/settlements", r#"{"through":"2026-11-30"}"#);
    assert_eq!(settled.status, 200, "{}", settled.body);
    let amount = payable(&settled.json(), "operator:town-bus");
    assert!(amount > 0);
    assert_eq!(
        server.get("/v1/settlements/settle-2026-11-30").json(),
        settled.json()
    );
    assert_eq!(server.get("/v1/settlements/settle-2026-10-31").status, 404);

    let closed = server.post("/v1/settlements", r#"{"through":"2026-11-01"}"#);
    assert_eq!(closed.status, 409);
    assert_eq!(closed.json()["error"]["code"], "period_closed");

    let payout = |id: &str, amount: u64| {
        json!({"id": id, "settlement": "settle-2026-11-30", "party": "operator:town-bus", "asset": "JPY", "amount_minor": amount}).to_string()
    };
    let too_much = server.post("/v1/payouts", &payout("po-1", amount + 1));
    assert_eq!(too_much.status, 409);
    assert_eq!(too_much.json()["error"]["code"], "payout_exceeds_payable");
    let paid = server.post("/v1/payouts", &payout("po-2", amount));
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.json()["remaining_minor"], 0);
    let conflict = server.post("/v1/payouts", &payout("po-2", 1));
    assert_eq!(conflict.json()["error"]["code"], "payout_id_conflict");
    let listed = server.get("/v1/settlements").json();
    assert_eq!(listed["payouts"].as_array().map(Vec::len), Some(1));
    server.kill();
}
