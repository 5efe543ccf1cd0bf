//! A clerk's resolution of a reconciliation exception records the key that sent it (issue 11):
//! beside the name the clerk typed, the audit trail shows the principal (key id), also after a
//! restart replays the log. Resolutions logged before this field keep their bytes (log_fixture).

mod common;

use common::{Server, TempDir};
use serde_json::json;

/// The key id inside a token: `kjo_` + 16 hex + `_` + 64 hex.
fn key_id_of(token: &str) -> &str {
    let id = &token[4..20];
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    id
}

#[test]
fn a_resolution_records_the_clerks_key_and_shows_it_in_the_audit_trail() {
    let dir = TempDir::new("resolution-principal");
    let data = dir.path().to_str().unwrap().to_owned();
    common::demo_month(&data);
    let server = Server::start(&["--data", &data]);
    let runs = server.get("/v1/reconciliations").json();
    let ic = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["source"] == "ic")
        .expect("the month demo reconciles the IC clearing file");
    let id = ic["id"].as_str().unwrap().to_owned();
    assert!(ic["exceptions_open"].as_u64().unwrap() >= 1, "{ic}");

    let clerk = common::key_for(server.addr, "clerk").unwrap();
    let body = json!({"reason": "二重送信 (sent twice)", "clerk": "佐藤"}).to_string();
    let answer = common::http_as(
        server.addr,
        Some(&clerk),
        "POST",
        &format!("/v1/reconciliations/{id}/exceptions/1/resolve"),
        Some(&body),
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let resolution = &answer.json()["exceptions"][0]["resolution"];
    assert_eq!(resolution["clerk"], "佐藤");
    assert_eq!(resolution["principal"], key_id_of(&clerk), "{resolution}");

    // The audit trail, read by the auditor, after a restart that replays the log.
    server.kill();
    let server = Server::start(&["--data", &data]);
    let run = server.get(&format!("/v1/reconciliations/{id}")).json();
    assert_eq!(
        run["exceptions"][0]["resolution"]["principal"],
        key_id_of(&clerk),
        "{run}"
    );
    assert_eq!(
        run["resolutions"]["1"]["principal"],
        key_id_of(&clerk),
        "{run}"
    );
}
