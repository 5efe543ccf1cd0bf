//! Who may do what, end to end over HTTP (issue 11): one real `kanjo serve`, a key for every role
//! (own and other operator, shop, bank and polling stations), and every role × every endpoint
//! and every event type through `POST /v1/events`. Each cell must come out exactly as the
//! issue's role list says: allowed (neither 401 nor 403; an event in a batch not `forbidden`) or
//! refused (403; an event `forbidden`). No key, or a key that is not one, is 401 on every
//! protected route (`GET /finance` sends a browser to `/finance/login` instead). On failure the whole matrix is printed, expected against found.
//!
//! A new route is one line in [`MATRIX`].

mod common;

use std::time::Duration;

use common::{Server, TempDir, array_body, at, grant, licence_returned_rider, redeem, topup};
use kanjo_engine::client::HttpClient;
use serde_json::{Value, json};

/// The columns: short name and role. "A" is the party the rows act for, "B" another of the kind.
const ROLES: [(&str, &str); 11] = [
    ("opA", "operator:town-bus"),
    ("opB", "operator:donan-bus"),
    ("shA", "shop:yakitori-ippei"),
    ("shB", "shop:muroran-shoten"),
    ("bkA", "bank:default"),
    ("bkB", "bank:other-bank"),
    ("elA", "election-office:station-012,station-013"),
    ("elB", "election-office:station-099"),
    ("adm", "town-admin"),
    ("clk", "clerk"),
    ("aud", "auditor"),
];

/// One row: `METHOD PATH`, the body (`$ID` becomes a fresh event id per cell, so no cell sees
/// another's idempotent answer), and one mark per role in [`ROLES`] order: `Y` allowed,
/// `.` refused. `EVENT` rows post one event as a batch of one to `/v1/events`; `FORM` rows post
/// an HTML form. `/healthz` is open to all, with or without a key.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str)] = &[
    //                                                                                                   opA opB shA shB bkA bkB elA elB adm clk aud
    // Events, one type at a time, own against other.
    ("EVENT ride town-bus",                 r#"{"type":"ride","operator":"town-bus","rider":"r-1","media":"wallet"}"#, "Y . . . . . . . . . ."),
    ("EVENT tap donan-bus",                 r#"{"type":"tap","direction":"on","operator":"donan-bus","stop":"s-1","vehicle":"donan-1","rider":"r-9","media":"cash"}"#, ". Y . . . . . . . . ."),
    ("EVENT tap town-bus",                  r#"{"type":"tap","direction":"on","operator":"town-bus","stop":"s-1","vehicle":"town-bus-1","rider":"r-9","media":"cash"}"#, "Y . . . . . . . . . ."),
    ("EVENT purchase yakitori-ippei",       r#"{"type":"purchase","shop":"yakitori-ippei","rider":"r-1","amount":10}"#, ". . Y . . . . . . . ."),
    ("EVENT purchase muroran-shoten",       r#"{"type":"purchase","shop":"muroran-shoten","rider":"r-1","amount":10}"#, ". . . Y . . . . . . ."),
    ("EVENT authorize yakitori-ippei",      r#"{"type":"authorize","shop":"yakitori-ippei","rider":"r-1","amount":10}"#, ". . Y . . . . . . . ."),
    ("EVENT capture (yakitori-ippei's)",    r#"{"type":"capture","authorization":"auth-cap","amount":1}"#, ". . Y . . . . . . . ."),
    ("EVENT capture (no such hold)",        r#"{"type":"capture","authorization":"no-such-hold","amount":1}"#, ". . . . . . . . . . ."),
    ("EVENT void (yakitori-ippei's)",       r#"{"type":"void","authorization":"auth-void"}"#, ". . Y . . . . . . . ."),
    ("EVENT refund (yakitori-ippei's)",     r#"{"type":"refund","purchase":"ev-purchase","amount":1}"#, ". . Y . . . . . . . ."),
    ("EVENT topup (default source)",        r#"{"type":"topup","rider":"r-1","asset":"JPY","amount":1}"#, ". . . . Y . . . . . ."),
    ("EVENT topup other-bank",              r#"{"type":"topup","rider":"r-1","asset":"JPY","amount":1,"source":"other-bank"}"#, ". . . . . Y . . . . ."),
    ("EVENT withdraw (default's coin)",     r#"{"type":"withdraw","rider":"r-1","asset":"SUZU","amount":1}"#, ". . . . Y . . . . . ."),
    ("EVENT send (default's coin)",         r#"{"type":"send","from":"r-1","to":"r-2","asset":"SUZU","amount":1}"#, ". . . . Y . . . . . ."),
    ("EVENT redeem station-012",            r#"{"type":"redeem","rider":"r-2","asset":"ballot-2026","place":"station-012"}"#, ". . . . . . Y . . . ."),
    ("EVENT redeem station-013",            r#"{"type":"redeem","rider":"r-2","asset":"ballot-2026","place":"station-013"}"#, ". . . . . . Y . . . ."),
    ("EVENT redeem station-099",            r#"{"type":"redeem","rider":"r-2","asset":"ballot-2026","place":"station-099"}"#, ". . . . . . . Y . . ."),
    ("EVENT grant",                         r#"{"type":"grant","rider":"r-1","asset":"muro-pt","amount":1}"#, ". . . . . . . . Y . ."),
    ("EVENT voucher_purchase",              r#"{"type":"voucher_purchase","rider":"r-1","asset":"muro-pt","sets":1,"media":"cash"}"#, ". . . . . . . . Y . ."),
    ("EVENT convert",                       r#"{"type":"convert","rider":"r-1","from_asset":"muro-pt","to_asset":"bus-pt","amount":1}"#, ". . . . . . . . Y . ."),
    // Event lookups: whoever may send such an event, and the auditor.
    ("GET /v1/events/ev-ride",              "", "Y . . . . . . . . . Y"),
    ("GET /v1/events/ev-purchase",          "", ". . Y . . . . . . . Y"),
    ("GET /v1/events/ev-topup",             "", ". . . . Y . . . . . Y"),
    ("GET /v1/events/ev-redeem",            "", ". . . . . . Y . . . Y"),
    ("GET /v1/events/ev-grant",             "", ". . . . . . . . Y . Y"),
    // Accounts and their history: the operator's and shop's own, and the auditor.
    ("GET /v1/accounts/operator:town-bus:fares",                "", "Y . . . . . . . . . Y"),
    ("GET /v1/accounts/operator:donan-bus:fares",               "", ". Y . . . . . . . . Y"),
    ("GET /v1/accounts/shop:yakitori-ippei:JPY",                "", ". . Y . . . . . . . Y"),
    ("GET /v1/accounts/rider:r-1:JPY",                          "", ". . . . . . . . . . Y"),
    ("GET /v1/accounts/bank:default:JPY",                       "", ". . . . . . . . . . Y"),
    ("GET /v1/accounts/place:station-012:ballot-2026",          "", ". . . . . . . . . . Y"),
    ("GET /v1/accounts/operator:town-bus:fares/transfers",      "", "Y . . . . . . . . . Y"),
    ("GET /v1/accounts/shop:yakitori-ippei:JPY/transfers",      "", ". . Y . . . . . . . Y"),
    ("GET /v1/accounts/shop:muroran-shoten:JPY/transfers",      "", ". . . Y . . . . . . Y"),
    ("GET /v1/accounts/rider:r-1:JPY/transfers",                "", ". . . . . . . . . . Y"),
    ("GET /v1/accounts/place:station-012:ballot-2026/transfers", "", ". . . . . . . . . . Y"),
    // Riders and shops: the town-admin writes; reads as above.
    ("POST /v1/riders",                     r#"[{"rider":"r-new","birth_date":"1960-01-15","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}]"#, ". . . . . . . . Y . ."),
    ("POST /v1/riders/r-1/keys",            r#"{"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#, ". . . . . . . . Y . ."),
    ("GET /v1/riders/r-1/passes",           "", ". . . . . . . . . . Y"),
    ("GET /v1/riders/r-1/lots?asset=muro-pt", "", ". . . . . . . . . . Y"),
    ("POST /v1/shops",                      "[]", ". . . . . . . . Y . ."),
    ("GET /v1/shops/yakitori-ippei",        "", ". . Y . . . . . Y . Y"),
    ("GET /v1/shops/muroran-shoten",        "", ". . . Y . . . . Y . Y"),
    // Finance: the clerk and auditor read; the town-admin closes periods and records payouts;
    // only a clerk resolves.
    ("GET /v1/reports/shops",               "", ". . . . . . . . . Y Y"),
    ("POST /v1/settlements",                "{}", ". . . . . . . . Y . ."),
    ("GET /v1/settlements",                 "", ". . . . . . . . . Y Y"),
    ("GET /v1/settlements/no-such-period",  "", ". . . . . . . . . Y Y"),
    ("POST /v1/payouts",                    "{}", ". . . . . . . . Y . ."),
    ("GET /v1/settlements/no-such-period/zengin",      "", ". . . . . . . . . Y Y"),
    ("GET /finance/settlements/no-such-period/zengin", "", ". . . . . . . . . Y Y"),
    ("GET /v1/reconciliations",             "", ". . . . . . . . . Y Y"),
    ("GET /v1/reconciliations/no-such-run", "", ". . . . . . . . . Y Y"),
    ("POST /v1/reconciliations/no-such-run/exceptions/1/resolve", r#"{"reason":"duplicate line","clerk":"佐藤"}"#, ". . . . . . . . . Y ."),
    ("GET /finance",                        "", ". . . . . . . . . Y Y"),
    ("FORM /finance/reconciliations/no-such-run/exceptions/1/resolve", "reason=dup&clerk=sato", ". . . . . . . . . Y ."),
    // Programme versions: the town-admin only.
    ("POST /v1/programme",                  "{}", ". . . . . . . . Y . ."),
    // Keys: the town-admin makes and revokes them; the auditor may list them.
    ("POST /v1/keys",                       r#"{"role":"no-such-role"}"#, ". . . . . . . . Y . ."),
    ("GET /v1/keys",                        "", ". . . . . . . . Y . Y"),
    ("POST /v1/keys/0000000000000001/revoke", "", ". . . . . . . . Y . ."),
    // Metrics need the auditor's key (no --metrics-open here); /healthz is open.
    ("GET /metrics",                        "", ". . . . . . . . . . Y"),
    ("GET /healthz",                        "", "Y Y Y Y Y Y Y Y Y Y Y"),
];

const HTTP_TIMEOUT_MS: u64 = 60_000;

/// What one cell came out as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Allowed(u16),
    Refused,
    /// 401, a 5xx, or an event answer without a status: never right for a valid key.
    Wrong(u16),
}

impl Found {
    fn mark(self) -> &'static str {
        match self {
            Found::Allowed(_) => "Y",
            Found::Refused => ".",
            Found::Wrong(_) => "!",
        }
    }
}

struct Request<'a> {
    method: &'a str,
    path: String,
    content_type: &'a str,
    body: String,
}

/// The request of a row for one cell (`cell` names the fresh event id).
fn request<'a>(spec: &'a str, body: &'a str, cell: &str) -> Request<'a> {
    let (verb, path) = spec.split_once(' ').expect("METHOD PATH");
    match verb {
        "EVENT" => {
            let mut event: Value = serde_json::from_str(body).expect("a row's event is JSON");
            event["id"] = json!(format!("m-{cell}"));
            event["at"] = json!(at(3_600));
            Request {
                method: "POST",
                path: "/v1/events".to_owned(),
                content_type: "application/json",
                body: array_body(&[event]),
            }
        }
        "FORM" => Request {
            method: "POST",
            path: path.to_owned(),
            content_type: "application/x-www-form-urlencoded",
            body: body.to_owned(),
        },
        method => Request {
            method,
            path: path.to_owned(),
            content_type: "application/json",
            body: body.to_owned(),
        },
    }
}

fn send(
    client: &HttpClient,
    server: &Server,
    token: Option<&str>,
    request: &Request,
) -> (u16, String) {
    let response = client
        .request_with_token(
            &server.addr.to_string(),
            request.method,
            &request.path,
            request.content_type,
            request.body.as_bytes().to_vec(),
            token,
        )
        .unwrap_or_else(|error| panic!("{} {}: {error}", request.method, request.path));
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

/// Allowed or refused, from the answer: for an event, its item in the batch's answer.
fn classify(is_event: bool, status: u16, body: &str) -> Found {
    match status {
        403 => Found::Refused,
        401 | 500..=599 => Found::Wrong(status),
        200 if is_event => {
            let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let item = &answer["results"][0];
            if item["error"]["code"] == "forbidden" {
                Found::Refused
            } else if item["error"]["code"] == "bad_event" {
                // Refused at parsing, before any scope: the row's event must be well formed.
                Found::Wrong(status)
            } else if item["status"].is_string() {
                Found::Allowed(status)
            } else {
                Found::Wrong(status)
            }
        }
        _ if is_event => Found::Wrong(status),
        other => Found::Allowed(other),
    }
}

/// Riders, money and the events the lookups and the capture, void and refund rows name; each
/// must be accepted, or those rows would test nothing.
fn seed(server: &Server) {
    let riders = array_body(&[licence_returned_rider("r-1"), licence_returned_rider("r-2")]);
    let response = server.post("/v1/riders", &riders);
    assert_eq!(response.status, 200, "{}", response.body);
    let events = [
        topup("ev-topup", "r-1", "JPY", 100_000, &at(0)),
        topup("seed-suzu", "r-1", "SUZU", 100_000, &at(1)),
        grant("ev-grant", "r-1", "muro-pt", 100, &at(2)),
        grant("seed-ballot", "r-2", "ballot-2026", 1, &at(3)),
        redeem("ev-redeem", "r-2", "ballot-2026", "station-012", &at(4)),
        common::town_bus_wallet_ride("ev-ride", "r-1", &at(5)),
        json!({"id": "ev-purchase", "type": "purchase", "at": at(6), "shop": "yakitori-ippei", "rider": "r-1", "amount": 100}),
        json!({"id": "auth-cap", "type": "authorize", "at": at(7), "shop": "yakitori-ippei", "rider": "r-1", "amount": 100}),
        json!({"id": "auth-void", "type": "authorize", "at": at(8), "shop": "yakitori-ippei", "rider": "r-1", "amount": 100}),
    ];
    let response = server.post("/v1/events", &array_body(&events));
    assert_eq!(response.status, 200, "{}", response.body);
    for (event, result) in events
        .iter()
        .zip(response.json()["results"].as_array().unwrap())
    {
        assert_eq!(
            result["status"], "accepted",
            "seed {}: {result}",
            event["id"]
        );
    }
}

/// The matrix as text: each row's expected marks, then what was found where it differs.
fn render(found: &[(usize, Vec<Found>)]) -> String {
    let header: Vec<&str> = ROLES.iter().map(|(short, _)| *short).collect();
    let mut text = format!("{:<64} {}\n", "request", header.join(" "));
    for (row, cells) in found {
        let (spec, _, expected) = MATRIX[*row];
        let marks: Vec<String> = cells.iter().map(|f| format!("{:<3}", f.mark())).collect();
        let flag = if expected.split(' ').eq(cells.iter().map(|f| f.mark())) {
            ""
        } else {
            "   <-- expected ".to_owned().leak()
        };
        text.push_str(&format!("{spec:<64} {}{flag}", marks.join(" ")));
        if !flag.is_empty() {
            text.push_str(expected);
        }
        text.push('\n');
    }
    text
}

#[test]
fn every_role_against_every_endpoint_and_event_type_as_the_issue_says() {
    for (spec, _, expected) in MATRIX {
        assert_eq!(
            expected.split(' ').count(),
            ROLES.len(),
            "{spec}: one mark per role"
        );
        assert!(
            expected.split(' ').all(|m| m == "Y" || m == "."),
            "{spec}: Y or ."
        );
    }
    let dir = TempDir::new("scope-matrix");
    let data = dir.join("store");
    let server = Server::start(&["--data", data.to_str().unwrap()]);
    seed(&server);
    let tokens: Vec<String> = ROLES
        .iter()
        .map(|(_, role)| common::key_for(server.addr, role).expect("a key per role"))
        .collect();
    let client = HttpClient::new(Duration::from_millis(HTTP_TIMEOUT_MS)).unwrap();

    let mut found = Vec::new();
    let mut details = Vec::new();
    for (row, (spec, body, expected)) in MATRIX.iter().enumerate() {
        let is_event = spec.starts_with("EVENT ");
        let mut cells = Vec::new();
        for (column, ((short, _), token)) in ROLES.iter().zip(&tokens).enumerate() {
            let request = request(spec, body, &format!("{row}-{column}"));
            let (status, answer) = send(&client, &server, Some(token), &request);
            let cell = classify(is_event, status, &answer);
            let wanted = expected.split(' ').nth(column).unwrap();
            if cell.mark() != wanted {
                details.push(format!("{spec} as {short}: {status} {answer}"));
            }
            cells.push(cell);
        }
        found.push((row, cells));
    }
    assert!(
        details.is_empty(),
        "the scope matrix differs from the issue's roles:\n{}\n{}",
        render(&found),
        details.join("\n")
    );
}

#[test]
fn no_key_or_a_bad_key_is_401_on_every_protected_route() {
    let dir = TempDir::new("scope-matrix-401");
    let data = dir.join("store");
    let server = Server::start(&["--data", data.to_str().unwrap()]);
    let client = HttpClient::new(Duration::from_millis(HTTP_TIMEOUT_MS)).unwrap();
    // Well-formed-looking, and not a key at all.
    let forged = format!("kanjo_{}", "A".repeat(43));
    let bad_tokens: [Option<&str>; 3] = [None, Some(forged.as_str()), Some("not a token")];
    let mut wrong = Vec::new();
    for (row, (spec, body, _)) in MATRIX.iter().enumerate() {
        let request = request(spec, body, &format!("anon-{row}"));
        for token in bad_tokens {
            let (status, answer) = send(&client, &server, token, &request);
            let open = spec.ends_with(" /healthz");
            // A browser on the page is sent to sign in (README "/finance"); a form post is 401.
            let page = *spec == "GET /finance";
            let expected = match (open, page) {
                (true, _) => 200,
                (_, true) => 303,
                _ => 401,
            };
            if status != expected {
                wrong.push(format!("{spec} with {token:?}: {status} {answer}"));
            } else if !open && !page {
                assert!(
                    answer.contains("\"code\""),
                    "{spec}: a JSON error, not {answer}"
                );
            }
        }
    }
    assert!(wrong.is_empty(), "not 401:\n{}", wrong.join("\n"));
}
