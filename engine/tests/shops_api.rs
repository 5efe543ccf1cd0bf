//! Shops through the HTTP API: `POST /v1/shops` checks each record on its own and logs the good
//! ones, `GET /v1/shops/{id}` reads them back (after a restart too), and `GET /v1/events/{id}`
//! shows what became of a purchase or an authorisation.

mod common;

use common::{Server, TempDir, array_body, topup};
use serde_json::{Value, json};

const AT: &str = "2026-11-26T10:00:00+09:00";

fn bakery() -> Value {
    json!({
        "id": "bakery",
        "name": "室蘭パン",
        "name_kana": "ﾑﾛﾗﾝﾊﾟﾝ",
        "categories": ["grocery"],
        "fees_bp": {"SUZU": 50},
    })
}

#[test]
fn shops_are_added_read_back_and_replayed_and_purchases_show_their_state() {
    let dir = TempDir::new("shops-api");
    let data = dir.join("data");
    let store_args = ["--data", data.to_str().unwrap()];
    let api = Server::start(&store_args);

    let mut wrong = bakery();
    wrong["id"] = json!("kanji");
    wrong["name_kana"] = json!("室蘭"); // not half-width katakana
    let response = api.post("/v1/shops", &array_body(&[bakery(), wrong]));
    assert_eq!(response.status, 200, "{}", response.body);
    let results = response.json()["results"].clone();
    assert_eq!(results[0], json!({"shop": "bakery", "status": "accepted"}));
    assert_eq!(results[1]["status"], "rejected");
    assert_eq!(results[1]["error"]["code"], "bad_shop");

    let shop = api.get("/v1/shops/bakery");
    assert_eq!(shop.status, 200);
    assert_eq!(shop.json()["name_kana"], "ﾑﾛﾗﾝﾊﾟﾝ");
    assert_eq!(shop.json()["status"], "active");
    assert_eq!(api.get("/v1/shops/kanji").status, 404);

    let events = [
        topup("t-1", "r-1", "SUZU", 1000, AT),
        json!({"id": "p-1", "type": "purchase", "at": AT, "shop": "bakery", "rider": "r-1", "amount": 400}),
        json!({"id": "f-1", "type": "refund", "at": AT, "purchase": "p-1", "amount": 100}),
        json!({"id": "a-1", "type": "authorize", "at": AT, "shop": "bakery", "rider": "r-1", "amount": 200}),
    ];
    let response = api.post("/v1/events", &array_body(&events));
    let results = response.json()["results"].clone();
    assert_eq!(
        results[1]["paid"],
        json!([{"asset": "SUZU", "amount": 400}])
    );
    assert_eq!(results[1]["fees"], json!([{"asset": "SUZU", "amount": 2}]));
    assert_eq!(
        results[2]["fees_returned"],
        json!([{"asset": "SUZU", "amount": 1}])
    );
    assert_eq!(api.balance("shop:bakery:SUZU"), 300 - 1);
    assert_eq!(api.balance("fees:SUZU"), 1);

    let purchase = api.get("/v1/events/p-1").json();
    assert_eq!(purchase["type"], "purchase");
    assert_eq!(
        purchase["state"]["refunded"],
        json!([{"asset": "SUZU", "amount": 100}])
    );
    assert_eq!(
        purchase["state"]["refundable"],
        json!([{"asset": "SUZU", "amount": 300}])
    );
    let held = api.get("/v1/events/a-1").json();
    assert_eq!(held["state"]["authorization"], "held");

    drop(api);
    let api = Server::start(&store_args);
    assert_eq!(api.get("/v1/shops/bakery").json(), shop.json(), "replayed");
    let capture =
        json!({"id": "c-1", "type": "capture", "at": AT, "authorization": "a-1", "amount": 200});
    let response = api.post("/v1/events", &array_body(&[capture]));
    assert_eq!(
        response.json()["results"][0]["status"],
        "accepted",
        "{}",
        response.body
    );
    let held = api.get("/v1/events/a-1").json();
    assert_eq!(held["state"]["authorization"], "captured");
    assert_eq!(held["state"]["by"], "c-1");
}

/// A JSON array element that is garbage, carries a My Number or is too large to log is refused on
/// its own; the good shop beside it is still added, and nothing of the refused ones is stored.
#[test]
fn a_bad_shop_record_is_refused_alone_and_never_stored() {
    let dir = TempDir::new("shops-api-edge");
    let data = dir.join("data");
    let api = Server::start(&["--data", data.to_str().unwrap()]);
    let mut my_number = bakery();
    my_number["id"] = json!("mn-shop");
    my_number["owner_my_number"] = json!("1234 5678 9012");
    let mut too_long = bakery();
    too_long["id"] = json!("x".repeat(129));
    let body = format!("[{}, NaN, {}, {}]", bakery(), my_number, too_long);
    let response = api.post("/v1/shops", &body);
    assert_eq!(response.status, 200, "{}", response.body);
    let results = response.json()["results"].clone();
    assert_eq!(results[0], json!({"shop": "bakery", "status": "accepted"}));
    for index in 1..=3 {
        assert_eq!(results[index]["status"], "rejected", "{index}: {results}");
        assert_eq!(results[index]["error"]["code"], "bad_shop", "{index}");
    }
    assert_eq!(
        results[3]["shop"],
        Value::Null,
        "an over-long id is not repeated back"
    );
    assert_eq!(api.get("/v1/shops/bakery").status, 200);
    assert_eq!(api.get("/v1/shops/mn-shop").status, 404);
    drop(api);
    for file in std::fs::read_dir(&data).expect("the store directory") {
        let stored = std::fs::read(file.expect("a store file").path()).expect("read it");
        let text = String::from_utf8_lossy(&stored);
        assert!(!text.contains("5678"), "no part of the My Number is stored");
    }
}
