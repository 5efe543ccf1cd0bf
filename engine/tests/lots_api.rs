//! `GET /v1/riders/{id}/lots?asset=`: a rider's point lots through the HTTP API, earliest end
//! first; the demo programme's `muro-pt` never expires, so its grants are one lot without an end.

mod common;

use common::{Server, TempDir, array_body};
use serde_json::json;

const AT: &str = "2026-11-26T10:00:00+09:00";

#[test]
fn a_riders_lots_are_listed_and_bad_queries_are_refused() {
    let dir = TempDir::new("lots-api");
    let data = dir.join("data");
    let api = Server::start(&["--data", data.to_str().unwrap()]);
    let grants = [
        json!({"id": "g-1", "type": "grant", "at": AT, "rider": "r-1", "asset": "muro-pt", "amount": 50}),
        json!({"id": "g-2", "type": "grant", "at": "2026-11-27T10:00:00+09:00", "rider": "r-1", "asset": "muro-pt", "amount": 30}),
    ];
    let response = api.post("/v1/events", &array_body(&grants));
    assert_eq!(response.status, 200, "{}", response.body);

    let lots = api.get("/v1/riders/r-1/lots?asset=muro-pt");
    assert_eq!(lots.status, 200, "{}", lots.body);
    assert_eq!(
        lots.json(),
        json!({
            "rider": "r-1",
            "asset": "muro-pt",
            "lots": [{"amount": 80, "granted_at": "2026-11-26T01:00:00Z", "expires_at": null}],
        }),
        "lots without an end are one lot, dated by the first grant"
    );
    let none = api.get("/v1/riders/r-9/lots?asset=muro-pt");
    assert_eq!(none.json()["lots"], json!([]));
    let unknown = api.get("/v1/riders/r-1/lots?asset=nope");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
    let missing = api.get("/v1/riders/r-1/lots");
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"]["code"], "bad_query");
}
