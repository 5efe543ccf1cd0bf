//! Customer-presented one-time tokens: a rider registers a device key, a `purchase` or
//! `authorize` carries `"token"` instead of `"rider"`, the edge verifies it with the event's `at`
//! as now, and the machine accepts each nonce once, also after a restart (replay).

mod common;

use common::{Server, TempDir, array_body, kanjo, programme_path, topup};
use kanjo_engine::store::{self, EntryKind};
use kanjo_qr::token::{Nonce, SigningKey, TokenClaims, public_key_text, sign};
use serde_json::{Value, json};

const AT: &str = "2026-11-26T10:00:00+09:00";
/// Lifetime of the tokens these tests sign (at most 120 s).
const LIFETIME_S: u64 = 60;

fn at_unix_s(at: &str) -> u64 {
    let at: jiff::Timestamp = at.parse().unwrap();
    u64::try_from(at.as_second()).unwrap()
}

fn device(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn key_text(key: &SigningKey) -> String {
    public_key_text(&key.verifying_key())
}

/// A token of `rider` signed by `key`, issued at `AT`.
fn token(rider: &str, nonce: u8, key: &SigningKey) -> String {
    let issued_at_unix_s = at_unix_s(AT);
    let claims = TokenClaims {
        rider_id: rider.to_owned(),
        nonce: Nonce([nonce; 16]),
        issued_at_unix_s,
        expires_at_unix_s: issued_at_unix_s + LIFETIME_S,
    };
    sign(&claims, key).unwrap()
}

fn purchase(id: &str, token: &str, amount_minor: u64, at: &str) -> Value {
    json!({"id": id, "type": "purchase", "at": at, "shop": "bakery", "token": token, "amount": amount_minor})
}

fn bakery() -> Value {
    json!({"id": "bakery", "name": "室蘭パン", "name_kana": "ﾑﾛﾗﾝﾊﾟﾝ", "categories": ["grocery"], "fees_bp": {"SUZU": 50}})
}

/// A server with rider r-1 (1 000 SUZU, device key 7 registered) and the bakery.
fn shop_ready(data: &std::path::Path) -> Server {
    let api = Server::start(&["--data", data.to_str().unwrap()]);
    let riders = api.post("/v1/riders", &json!({"rider": "r-1"}).to_string());
    assert_eq!(riders.json()["results"][0]["status"], "accepted");
    let shops = api.post("/v1/shops", &array_body(&[bakery()]));
    assert_eq!(shops.json()["results"][0]["status"], "accepted");
    let key = register(&api, "r-1", &key_text(&device(7)));
    assert_eq!(key.status, 200, "{}", key.body);
    let funded = api.post(
        "/v1/events",
        &array_body(&[topup("t-1", "r-1", "SUZU", 1000, AT)]),
    );
    assert_eq!(funded.json()["results"][0]["status"], "accepted");
    api
}

fn register(api: &Server, rider: &str, public_key: &str) -> common::Response {
    let body = json!({"public_key": public_key}).to_string();
    api.post(&format!("/v1/riders/{rider}/keys"), &body)
}

fn results(api: &Server, events: &[Value]) -> Vec<Value> {
    let response = api.post("/v1/events", &array_body(events));
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()["results"].as_array().unwrap().clone()
}

fn code(result: &Value) -> &str {
    result["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn device_keys_are_registered_once_bounded_per_rider_and_refused_with_their_codes() {
    let dir = TempDir::new("tokens-keys");
    let data = dir.join("data");
    let api = shop_ready(&data);

    let again = register(&api, "r-1", &key_text(&device(7)));
    assert_eq!(again.status, 200, "the same key twice is accepted once");
    assert_eq!(again.json(), json!({"rider": "r-1", "status": "accepted"}));

    let unknown = register(&api, "r-404", &key_text(&device(8)));
    assert_eq!(
        (unknown.status, code(&unknown.json())),
        (404, "unknown_rider")
    );
    let bad = register(&api, "r-1", "not-a-key");
    assert_eq!((bad.status, code(&bad.json())), (400, "bad_public_key"));
    let extra = api.post("/v1/riders/r-1/keys", r#"{"public_key":"x","pin":"1234"}"#);
    assert_eq!((extra.status, code(&extra.json())), (400, "bad_body"));

    for seed in 8..15 {
        let more = register(&api, "r-1", &key_text(&device(seed)));
        assert_eq!(more.status, 200, "key {seed}: {}", more.body);
    }
    let ninth = register(&api, "r-1", &key_text(&device(15)));
    assert_eq!((ninth.status, code(&ninth.json())), (409, "too_many_keys"));

    drop(api);
    let api = Server::start(&["--data", data.to_str().unwrap()]);
    let replayed = register(&api, "r-1", &key_text(&device(16)));
    assert_eq!(
        (replayed.status, code(&replayed.json())),
        (409, "too_many_keys"),
        "the keys were replayed"
    );
}

#[test]
fn a_token_pays_once_also_after_a_restart_and_its_signature_is_never_logged() {
    let dir = TempDir::new("tokens-once");
    let data = dir.join("data");
    let api = shop_ready(&data);
    let paying = token("r-1", 1, &device(7));

    let answers = results(
        &api,
        &[
            purchase("p-1", &paying, 300, AT),
            purchase("p-2", &paying, 300, AT),
        ],
    );
    assert_eq!(answers[0]["status"], "accepted", "{}", answers[0]);
    assert_eq!(
        answers[0]["paid"],
        json!([{"asset": "SUZU", "amount": 300}])
    );
    assert_eq!(code(&answers[1]), "token_used");
    assert_eq!(api.balance("rider:r-1:SUZU"), 700);

    // The same event again is the same answer (idempotency), not a second use.
    let resent = results(&api, &[purchase("p-1", &paying, 300, AT)]);
    assert_eq!(resent[0], answers[0]);

    drop(api);
    let api = Server::start(&["--data", data.to_str().unwrap()]);
    let after_restart = results(&api, &[purchase("p-3", &paying, 300, AT)]);
    assert_eq!(code(&after_restart[0]), "token_used");
    assert_eq!(api.balance("rider:r-1:SUZU"), 700);
    let authorize = json!({"id": "a-1", "type": "authorize", "at": AT, "shop": "bakery", "token": token("r-1", 2, &device(7)), "amount": 100});
    let held = results(&api, &[authorize]);
    assert_eq!(held[0]["status"], "accepted", "{}", held[0]);
    drop(api);

    let signature = paying.rsplit_once('.').unwrap().1;
    let mut store = store::open(&common::sqlite(&data)).unwrap();
    let records = store.read(1, 1000).unwrap();
    let entries: Vec<_> = records.iter().flat_map(|record| &record.entries).collect();
    for entry in &entries {
        let body = String::from_utf8_lossy(&entry.body);
        assert!(!body.contains(signature), "{body}");
        assert!(!body.contains("kq1."), "{body}");
    }
    let logged = entries
        .iter()
        .find(|entry| entry.kind == EntryKind::Event && entry.id == "p-1")
        .unwrap();
    let logged: Value = serde_json::from_slice(&logged.body).unwrap();
    assert_eq!(logged["rider"], "r-1");
    assert_eq!(logged["token_nonce"], "01010101010101010101010101010101");
    assert_eq!(logged["token_expires_at"], at_unix_s(AT) + LIFETIME_S);
    assert!(
        entries
            .iter()
            .any(|entry| entry.kind == EntryKind::DeviceKey)
    );
}

#[test]
fn bad_and_expired_tokens_are_refused_alone_and_move_nothing() {
    let dir = TempDir::new("tokens-refused");
    let data = dir.join("data");
    let api = shop_ready(&data);
    let riders = api.post("/v1/riders", &json!({"rider": "r-2"}).to_string());
    assert_eq!(riders.json()["results"][0]["status"], "accepted");

    let expires_at_unix_s = at_unix_s(AT) + LIFETIME_S;
    let late = jiff::Timestamp::from_second(i64::try_from(expires_at_unix_s + 1).unwrap())
        .unwrap()
        .to_string();
    let on_time = jiff::Timestamp::from_second(i64::try_from(expires_at_unix_s).unwrap())
        .unwrap()
        .to_string();
    let good = token("r-1", 3, &device(7));
    let mut tampered = token("r-1", 4, &device(7));
    // A changed payload character: the signature no longer covers it.
    let flip_at = "kq1.".len() + 3;
    let flipped = if &tampered[flip_at..=flip_at] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(flip_at..=flip_at, flipped);

    let answers = results(
        &api,
        &[
            purchase("x-expired", &token("r-1", 5, &device(7)), 100, &late),
            purchase("x-wrong-key", &token("r-1", 6, &device(9)), 100, AT),
            purchase("x-tampered", &tampered, 100, AT),
            purchase("x-no-keys", &token("r-2", 7, &device(7)), 100, AT),
            purchase("x-unknown", &token("r-404", 8, &device(7)), 100, AT),
            purchase("x-garbage", "kq1.nonsense", 100, AT),
            json!({"id": "x-both", "type": "purchase", "at": AT, "shop": "bakery", "rider": "r-1", "token": good, "amount": 100}),
            // The log's form of a checked token is kanjo's to write, not a client's.
            json!({"id": "x-forged", "type": "purchase", "at": AT, "shop": "bakery", "rider": "r-1", "amount": 100,
                   "token_nonce": "000000000000000000000000000000aa", "token_expires_at": expires_at_unix_s}),
            purchase("ok-token", &good, 200, &on_time),
            json!({"id": "ok-plain", "type": "purchase", "at": AT, "shop": "bakery", "rider": "r-1", "amount": 50}),
        ],
    );
    let codes: Vec<&str> = answers.iter().map(code).collect();
    assert_eq!(
        codes,
        [
            "token_expired",
            "bad_token",
            "bad_token",
            "bad_token",
            "bad_token",
            "bad_token",
            "bad_event",
            "bad_event",
            "",
            ""
        ],
        "{answers:#?}"
    );
    assert_eq!(answers[0]["id"], "x-expired");
    assert_eq!(
        answers[8]["status"], "accepted",
        "valid through its expiry second"
    );
    assert_eq!(answers[9]["status"], "accepted");
    assert_eq!(api.balance("rider:r-1:SUZU"), 1000 - 200 - 50);
    assert_eq!(api.balance("rider:r-2:SUZU"), 0);
    // Refused at the edge, so never logged: the id can be used again.
    assert_eq!(api.get("/v1/events/x-wrong-key").status, 404);
}

#[test]
fn kanjo_import_checks_tokens_and_a_nonce_stays_used_in_the_next_run() {
    let dir = TempDir::new("tokens-import");
    let data = dir.join("data");
    drop(shop_ready(&data));
    let paying = token("r-1", 9, &device(7));
    let programme = programme_path();
    let import = |name: &str, events: &[Value]| -> Vec<Value> {
        let path = dir.join(name);
        let lines: Vec<String> = events.iter().map(Value::to_string).collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        let output = kanjo(&[
            "import",
            "--data",
            data.to_str().unwrap(),
            "--programme",
            programme.to_str().unwrap(),
            "--answers",
            path.to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let first = import(
        "first.ndjson",
        &[
            purchase("i-1", &paying, 100, AT),
            purchase("i-bad", &token("r-1", 10, &device(9)), 100, AT),
            purchase("i-2", &token("r-1", 11, &device(7)), 100, AT),
        ],
    );
    assert_eq!(first[0]["status"], "accepted", "{first:?}");
    assert_eq!(code(&first[1]), "bad_token");
    assert_eq!(first[2]["status"], "accepted");
    let second = import("second.ndjson", &[purchase("i-3", &paying, 100, AT)]);
    assert_eq!(code(&second[0]), "token_used", "{second:?}");
}
