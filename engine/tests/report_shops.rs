//! The shop statement through the service: `GET /v1/reports/shops` answers the days and totals
//! worked out by hand below, and `kanjo report shops --json` over the same store (replayed in
//! another process) answers the very same document.
//!
//! Programme: examples/muroran/programme.toml (`yakitori-ippei`: food, JPY 200 bp;
//! `muroran-hire`: transport, JPY 100 bp; `bus-pt` points only transport takes).
//! - p-1: ¥1000 at yakitori-ippei, all JPY (bus-pt is not taken there): fee ⌊1000 × 2 %⌋ = 20.
//! - f-1: 250 of p-1 back; the shop keeps 750 and owes ⌊750 × 2 %⌋ = 15, so 5 of the fee returns.
//! - a-1 holds ¥800 at muroran-hire: bus-pt 300 first, then JPY 500. c-1 captures 600: bus-pt
//!   300 and JPY 300 (fee ⌊300 × 1 %⌋ = 3); JPY 200 is released.

mod common;

use common::{Server, TempDir, array_body, grant, kanjo, topup};
use serde_json::{Value, json};

const AT: &str = "2026-11-26T15:00:00+09:00";

#[test]
fn the_service_and_the_cli_give_the_hand_worked_statement() {
    let dir = TempDir::new("report-shops");
    let data = dir.join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let api = Server::start(&["--data", data]);
    let events = [
        topup("t-1", "r-1", "JPY", 3000, AT),
        grant("g-1", "r-1", "bus-pt", 300, AT),
        json!({"id": "p-1", "type": "purchase", "at": AT, "shop": "yakitori-ippei", "rider": "r-1", "amount": 1000}),
        json!({"id": "f-1", "type": "refund", "at": AT, "purchase": "p-1", "amount": 250}),
        json!({"id": "a-1", "type": "authorize", "at": AT, "shop": "muroran-hire", "rider": "r-1", "amount": 800}),
        json!({"id": "c-1", "type": "capture", "at": AT, "authorization": "a-1", "amount": 600}),
    ];
    let response = api.post("/v1/events", &array_body(&events));
    assert_eq!(response.status, 200, "{}", response.body);
    for result in response.json()["results"].as_array().expect("results") {
        assert_eq!(result["status"], "accepted", "{result}");
    }

    let response = api.get("/v1/reports/shops");
    assert_eq!(response.status, 200, "{}", response.body);
    let report = response.json();
    let line = |shop: &str, asset: &str, sales: u64, fees: i64, refunds: u64, net: i64| {
        (shop.to_owned(), asset.to_owned(), sales, fees, refunds, net)
    };
    let days: Vec<_> = report["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|day| {
            assert_eq!(day["date"], "2026-11-26");
            (
                day["shop"].as_str().unwrap().to_owned(),
                day["asset"].as_str().unwrap().to_owned(),
                day["sales_minor"].as_u64().unwrap(),
                day["fees_minor"].as_i64().unwrap(),
                day["refunds_minor"].as_u64().unwrap(),
                day["net_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            line("muroran-hire", "JPY", 300, 3, 0, 297),
            line("muroran-hire", "bus-pt", 300, 0, 0, 300),
            line("yakitori-ippei", "JPY", 1000, 15, 250, 735),
        ]
    );
    assert_eq!(
        report["totals"],
        json!([
            {"asset": "JPY", "sales_minor": 1300, "fees_minor": 18, "refunds_minor": 250, "net_minor": 1032},
            {"asset": "bus-pt", "sales_minor": 300, "fees_minor": 0, "refunds_minor": 0, "net_minor": 300},
        ])
    );
    assert_eq!(api.balance("fees:JPY"), 18);
    drop(api);

    let output = kanjo(&["report", "shops", "--json", "--data", data]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let replayed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        replayed, report,
        "the CLI replays to the service's statement"
    );
}
