//! `GET /v1/riders/{id}/passes` for a rider who holds a pass: the demo programme's `pupil-6m`
//! (six months from issue, town bus only, two rides a day, elementary pupils), issued by a remote
//! grant and used once.

mod common;

use common::{Server, TempDir, array_body, grant};
use serde_json::json;

#[test]
fn a_pupils_pass_is_listed_with_its_validity_limits_and_rides_used() {
    let dir = TempDir::new("passes-api");
    let data = dir.join("data");
    let api = Server::start(&["--data", data.to_str().unwrap()]);
    let pupil = json!({
        "rider": "p-1",
        "birth_date": "2017-06-01",
        "residence": "012050",
        "verified_at": "2026-04-01",
        "valid_until": "2027-03-31",
    });
    let response = api.post("/v1/riders", &pupil.to_string());
    assert_eq!(response.status, 200, "{}", response.body);
    let events = [
        grant(
            "pass-p-1",
            "p-1",
            "pupil-pass",
            1,
            "2026-11-26T15:00:00+09:00",
        ),
        json!({"id": "ride-1", "type": "ride", "at": "2026-11-26T15:30:00+09:00",
               "operator": "town-bus", "rider": "p-1", "media": "cash"}),
    ];
    let response = api.post("/v1/events", &array_body(&events));
    assert_eq!(response.status, 200, "{}", response.body);
    let results = response.json()["results"].clone();
    assert_eq!(results[0]["status"], "accepted", "{results}");
    assert_eq!(results[1]["status"], "accepted", "{results}");
    assert_eq!(
        results[1]["rider_pays"], 0,
        "the pass covers the ride: {results}"
    );

    let response = api.get("/v1/riders/p-1/passes");
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.json(),
        json!({"rider": "p-1", "passes": [{
            "id": "pupil-6m",
            "asset": "pupil-pass",
            "issued_on": "2026-11-26",
            "valid_from": "2026-11-26",
            "valid_until": "2027-05-25",
            "rides_per_day": 2,
            "rides_total": null,
            "rides_used": 1,
        }]})
    );
    let other = api.get("/v1/riders/r-9/passes");
    assert_eq!(other.json(), json!({"rider": "r-9", "passes": []}));
}
