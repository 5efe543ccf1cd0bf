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
