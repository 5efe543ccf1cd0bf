//! API keys end to end over HTTP: without a valid key nothing under /v1 answers (401), a key
//! acts only inside its role (403, or `forbidden` for one event of a batch while the rest
//! stands), a revoked key is refused at once by the running server, the key that sent an event
//! is recorded with it and survives a restart, and a key past its rate gets 429 with Retry-After.

mod common;

use common::{Server, TempDir, array_body, http_as, key_for, topup, town_bus_wallet_ride};
use serde_json::json;

const AT: &str = "2026-11-26T07:00:00+09:00";

fn serve(dir: &TempDir, extra: &[&str]) -> Server {
    let data = dir.join("store");
    let mut args = vec!["--data", data.to_str().expect("a UTF-8 path")];
    args.extend(extra);
    Server::start(&args)
}

#[test]
fn without_a_valid_key_every_v1_route_is_401_and_healthz_stays_open() {
    let dir = TempDir::new("auth-401");
    let server = serve(&dir, &[]);
    for (token, case) in [
        (None, "no header"),
        (Some("not-a-token"), "malformed"),
        (
            Some(
                "kjo_0000000000000000_0000000000000000000000000000000000000000000000000000000000000000",
            ),
            "unknown key",
        ),
    ] {
        let response = http_as(
            server.addr,
            token,
            "GET",
            "/v1/accounts/clearing:ic:JPY",
            None,
        )
        .unwrap();
        assert_eq!(response.status, 401, "{case}: {}", response.body);
        assert_eq!(response.json()["error"]["code"], "unauthorized", "{case}");
        assert!(response.header("www-authenticate").is_some(), "{case}");
    }
    let events = array_body(&[topup("t-1", "r-1", "JPY", 100, AT)]);
    let response = http_as(server.addr, None, "POST", "/v1/events", Some(&events)).unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(
        http_as(server.addr, None, "GET", "/healthz", None)
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        http_as(server.addr, None, "GET", "/metrics", None)
            .unwrap()
            .status,
        401
    );
}

#[test]
fn an_event_outside_the_keys_scope_is_refused_alone_and_the_rest_of_the_batch_stands() {
    let dir = TempDir::new("auth-batch");
    let server = serve(&dir, &[]);
    let bank = key_for(server.addr, "bank:default").unwrap();
    let body = array_body(&[
        topup("t-1", "r-1", "JPY", 1_000, AT),
        town_bus_wallet_ride("ride-1", "r-1", AT),
        json!({"id": "t-2", "type": "topup", "at": AT, "rider": "r-1", "asset": "JPY", "amount": 5_000_000, "source": "any-bank-i-like"}),
    ]);
    let response = http_as(server.addr, Some(&bank), "POST", "/v1/events", Some(&body)).unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let results = response.json()["results"].clone();
    assert_eq!(results[0]["status"], "accepted", "{results}");
    assert_eq!(results[1]["error"]["code"], "forbidden", "{results}");
    assert_eq!(results[2]["error"]["code"], "forbidden", "{results}");
    assert_eq!(server.balance("rider:r-1:JPY"), 1_000);
    // Not logged: the id stays free for a key that may send the event.
    assert_eq!(server.get("/v1/events/ride-1").status, 404);
    let operator = key_for(server.addr, "operator:town-bus").unwrap();
    let ride = array_body(&[town_bus_wallet_ride("ride-1", "r-1", AT)]);
    let response = http_as(
        server.addr,
        Some(&operator),
        "POST",
        "/v1/events",
        Some(&ride),
    )
    .unwrap();
    assert_eq!(
        response.json()["results"][0]["status"],
        "accepted",
        "{}",
        response.body
    );
    // A request outside the role is 403.
    let read = http_as(
        server.addr,
        Some(&operator),
        "GET",
        "/v1/accounts/rider:r-1:JPY",
        None,
    )
    .unwrap();
    assert_eq!(read.status, 403, "{}", read.body);
    assert_eq!(read.json()["error"]["code"], "forbidden");
}

#[test]
fn the_sender_of_each_event_is_recorded_and_replayed_and_a_revoked_key_is_refused_at_once() {
    let dir = TempDir::new("auth-principal");
    let server = serve(&dir, &[]);
    let bank = key_for(server.addr, "bank:default").unwrap();
    let key_id = &bank[4..20];
    let body = array_body(&[topup("t-1", "r-1", "JPY", 1_000, AT)]);
    let sent = http_as(server.addr, Some(&bank), "POST", "/v1/events", Some(&body)).unwrap();
    assert_eq!(sent.status, 200);
    assert_eq!(server.get("/v1/events/t-1").json()["principal"], key_id);

    let admin = key_for(server.addr, "town-admin").unwrap();
    let path = format!("/v1/keys/{key_id}/revoke");
    let revoked = http_as(server.addr, Some(&admin), "POST", &path, None).unwrap();
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.json()["revoked_at_unix_s"].is_u64());
    let refused = http_as(server.addr, Some(&bank), "POST", "/v1/events", Some(&body)).unwrap();
    assert_eq!(refused.status, 401, "{}", refused.body);

    drop(server);
    let server = serve(&dir, &[]);
    assert_eq!(
        server.get("/v1/events/t-1").json()["principal"],
        key_id,
        "replayed"
    );
    let refused = http_as(server.addr, Some(&bank), "GET", "/v1/events/t-1", None).unwrap();
    assert_eq!(refused.status, 401, "the revocation is replayed too");
}

#[test]
fn a_key_past_its_rate_gets_429_with_retry_after() {
    let dir = TempDir::new("auth-rate");
    let data = dir.join("store");
    let admin = common::admin_token_on_store(&["--data", data.to_str().unwrap()]);
    let server = Server::start(&[
        "--data",
        data.to_str().unwrap(),
        "--rate-per-second",
        "1",
        "--rate-burst",
        "2",
    ]);
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            http_as(server.addr, Some(&admin), "GET", "/v1/keys", None)
                .unwrap()
                .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = http_as(server.addr, Some(&admin), "GET", "/v1/keys", None).unwrap();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"]["code"], "rate_limited");
    assert!(limited.header("retry-after").is_some());
}
