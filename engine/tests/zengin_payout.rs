//! The Zengin payout file of a settlement (issue 10), end to end: `kanjo demo --month`,
//! `kanjo settle`, then `kanjo payout --settlement ID` writes the 総合振込 file, which an
//! independent parser (the `zengin-fmt` crate) reads back: 120-byte Shift_JIS records with CR LF,
//! one record per party with unpaid payables (its JPY and town points, ¥1 a point, together),
//! the trailer's count and total = Σ unpaid payables. The API
//! routes answer the same bytes; bad or missing bank details are refused by payee with no file;
//! after `kanjo payout --confirm` there is nothing left to pay.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{
    Server, TempDir, import_r1, kanjo, key_for, licence_returned_rider, ndjson_file, topup,
};
use kanjo_engine::client::HttpClient;
use serde_json::{Value, json};
use zengin_fmt::general_transfer;

const SETTLEMENT: &str = "settle-2026-11-30";
const RECORD_BYTES: usize = 120;

fn run_ok(args: &[&str]) -> Vec<u8> {
    common::kanjo_ok(args)
}

/// What a fresh settlement (no payouts yet) owes in yen, per party, in its order: every payable
/// (the Muroran programme's are yen and town points, ¥1 a point; stablecoins are never payable).
fn unpaid_jpy(settlement: &[u8]) -> Vec<(String, u64)> {
    let settlement: Value = serde_json::from_slice(settlement).expect("the settlement's JSON");
    assert_eq!(settlement["id"], SETTLEMENT);
    let mut owed: Vec<(String, u64)> = Vec::new();
    for payable in settlement["payables"].as_array().expect("payables") {
        let asset = payable["asset"].as_str().unwrap();
        assert!(["JPY", "muro-pt", "bus-pt"].contains(&asset), "{payable}");
        let party = payable["party"].as_str().unwrap();
        let amount = payable["amount_minor"].as_u64().unwrap();
        match owed.last_mut() {
            Some((last, sum)) if last == party => *sum += amount,
            _ => owed.push((party.to_owned(), amount)),
        }
    }
    owed
}

/// The account holder's name each party has in examples/muroran/programme.toml, in Zengin
/// characters (ｰ is written -).
fn expected_kana(party: &str) -> &'static str {
    match party {
        "operator:donan-bus" => "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ",
        "operator:town-bus" => "ﾑﾛﾗﾝｼｺｳﾂｳｷﾖｸ",
        "shop:yakitori-ippei" => "ﾔｷﾄﾘｲﾂﾍﾟｲ",
        "shop:muroran-shoten" => "ﾑﾛﾗﾝｼﾖﾃﾝ",
        "shop:muroran-hire" => "ﾑﾛﾗﾝﾊｲﾔ-",
        "shop:nakajima-yaoya" => "ﾅｶｼﾞﾏﾁﾖｳﾉﾔｵﾔ",
        other => panic!("a party the programme does not have: {other}"),
    }
}

/// The file's shape byte by byte, then its reading by the independent parser.
fn check_file(bytes: &[u8], unpaid: &[(String, u64)]) -> general_transfer::File {
    assert_eq!(bytes.len(), (unpaid.len() + 3) * (RECORD_BYTES + 2));
    for (index, record) in bytes.chunks(RECORD_BYTES + 2).enumerate() {
        assert_eq!(
            &record[RECORD_BYTES..],
            b"\r\n",
            "record {index} ends in CR LF"
        );
        // Shift_JIS single bytes only: printable ASCII and half-width katakana (0xA1..=0xDF).
        for &byte in &record[..RECORD_BYTES] {
            assert!(
                (0x20..0x7F).contains(&byte) || (0xA1..=0xDF).contains(&byte),
                "record {index}: byte {byte:#04x} is not JIS X 0201"
            );
        }
    }
    assert_eq!(&bytes[..1], b"1");
    assert_eq!(bytes[(unpaid.len() + 2) * (RECORD_BYTES + 2)], b'9');
    let file = zengin_fmt::parse_general_transfer(bytes)
        .unwrap_or_else(|error| panic!("zengin-fmt refused the file: {error}"));
    let total: u64 = unpaid.iter().map(|(_, left)| left).sum();
    assert_eq!(file.header.kind_code, 21);
    assert_eq!(file.header.remitter_code, "0120500001");
    assert_eq!(file.header.remitter_name, "ﾑﾛﾗﾝｼ");
    assert_eq!(file.header.transfer_date, "1210");
    assert_eq!(file.trailer.total_count as usize, unpaid.len());
    assert_eq!(file.trailer.total_amount, total);
    assert_eq!(file.details.len(), unpaid.len());
    for (detail, (party, left)) in file.details.iter().zip(unpaid) {
        assert_eq!(detail.recipient_name, expected_kana(party), "{party}");
        assert_eq!(detail.amount, *left, "{party}");
        assert_eq!(detail.account_number.len(), 7);
        assert_eq!(detail.edi_info, "KANJO 20261130");
    }
    file
}

/// One GET with raw bytes back (the file is not UTF-8), as the given key.
fn get_bytes(addr: SocketAddr, token: &str, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let client = HttpClient::new(Duration::from_secs(60)).expect("an HTTP client");
    let response = client
        .request_with_token(
            &addr.to_string(),
            "GET",
            path,
            "application/json",
            Vec::new(),
            Some(token),
        )
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    (response.status, response.headers, response.body)
}

/// The finance page's download: the key as the `kanjo_key` cookie, as a browser sends it.
fn get_with_cookie(addr: SocketAddr, token: &str, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: kanjo_key={token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    (head, answer[split + 4..].to_vec())
}

#[test]
fn the_demo_month_pays_every_unpaid_payable_once_through_one_zengin_file() {
    let dir = TempDir::new("zengin-month");
    let data = dir.join("data").display().to_string();
    common::demo_month(&data);
    let unpaid = unpaid_jpy(&run_ok(&[
        "settle",
        "--data",
        &data,
        "--through",
        "2026-11-30",
    ]));
    assert!(
        unpaid.len() >= 2,
        "operators and shops are owed: {unpaid:?}"
    );

    let payout = ["payout", "--data", &data, "--settlement", SETTLEMENT];
    let file_args = [&payout[..], &["--transfer-date", "2026-12-10"]].concat();
    let bytes = run_ok(&file_args);
    check_file(&bytes, &unpaid);
    // Deterministic, and the same bytes into --out.
    let out = dir.join("furikomi.txt").display().to_string();
    assert!(run_ok(&[&file_args[..], &["--out", &out]].concat()).is_empty());
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    let server = Server::start(&["--data", &data]);
    let path = format!("/v1/settlements/{SETTLEMENT}/zengin?transfer_date=2026-12-10");
    let clerk = key_for(server.addr, "clerk").unwrap();
    let (status, headers, body) = get_bytes(server.addr, &clerk, &path);
    assert_eq!(status, 200);
    assert_eq!(body, bytes, "the API answers the CLI's bytes");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/plain; charset=Shift_JIS")
    );
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"furikomi-settle-2026-11-30.txt\"")
    );
    let (head, cookie_body) = get_with_cookie(
        server.addr,
        &clerk,
        &format!("/finance/settlements/{SETTLEMENT}/zengin?transfer_date=2026-12-10"),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        cookie_body, bytes,
        "the finance page downloads the same file"
    );

    let operator = key_for(server.addr, "operator:donan-bus").unwrap();
    let (status, _, body) = get_bytes(server.addr, &operator, &path);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = get_bytes(
        server.addr,
        &clerk,
        "/v1/settlements/settle-2026-10-31/zengin",
    );
    assert_eq!(status, 404);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], "unknown_settlement");
    let bad_date = format!("/v1/settlements/{SETTLEMENT}/zengin?transfer_date=2026-11-31");
    let (status, _, body) = get_bytes(server.addr, &clerk, &bad_date);
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        "bad_transfer_date"
    );
    server.kill();

    let paid: Value =
        serde_json::from_slice(&run_ok(&[&payout[..], &["--confirm"]].concat())).unwrap();
    let paid_yen: u64 = paid
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount_minor"].as_u64().unwrap())
        .sum();
    assert_eq!(
        paid_yen,
        unpaid.iter().map(|(_, left)| left).sum::<u64>(),
        "{paid}"
    );
    let after = kanjo(&file_args);
    assert!(!after.status.success(), "nothing to pay is an error");
    assert!(after.stdout.is_empty(), "and no file");
    let stderr = String::from_utf8_lossy(&after.stderr);
    assert!(stderr.contains("nothing_to_pay"), "{stderr}");
}

/// The Muroran programme with the GTFS path made absolute, edited by `edit`.
fn programme_copy(dir: &TempDir, edit: impl Fn(String) -> String) -> String {
    let text = common::portable_programme_text();
    let path = dir.join("programme.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path.display().to_string()
}

/// Half-fare town-bus rides (the town bus is owed a subsidy) and a purchase at 室蘭書店.
fn import_month(dir: &TempDir, programme: &str) -> Vec<u8> {
    let ride = |id: &str, at: &str| json!({"id": id, "type": "ride", "at": at, "operator": "town-bus", "rider": "r-1", "media": "wallet"});
    let events = [
        topup("t-1", "r-1", "JPY", 5_000, "2026-11-20T09:00:00+09:00"),
        ride("ride-1", "2026-11-26T07:00:00+09:00"),
        ride("ride-2", "2026-11-26T08:00:00+09:00"),
        json!({"id": "p-1", "type": "purchase", "at": "2026-11-27T12:00:00+09:00", "shop": "muroran-shoten", "rider": "r-1", "amount": 1000, "pay_with": ["JPY"]}),
    ];
    let data = import_r1(dir, programme, &events);
    run_ok(&["settle", "--data", &data, "--through", "2026-11-30"])
}

#[test]
fn operators_are_paid_from_their_payees_table_and_shops_from_their_bank() {
    let dir = TempDir::new("zengin-small");
    let programme = programme_copy(&dir, |text| text);
    let settlement = import_month(&dir, &programme);
    let data = dir.join("data").display().to_string();
    let unpaid = unpaid_jpy(&settlement);
    let parties: Vec<&str> = unpaid.iter().map(|(party, _)| party.as_str()).collect();
    assert_eq!(parties, ["operator:town-bus", "shop:muroran-shoten"]);
    // ¥1 000 less 室蘭書店's 50 bp fee.
    assert_eq!(unpaid[1].1, 995);
    let bytes = run_ok(&[
        "payout",
        "--data",
        &data,
        "--settlement",
        SETTLEMENT,
        "--transfer-date",
        "2026-12-10",
    ]);
    let file = check_file(&bytes, &unpaid);
    let bus = &file.details[0];
    assert_eq!(
        (bus.bank_code.as_str(), bus.branch_code.as_str()),
        ("1003", "001")
    );
    assert_eq!(
        (bus.account_type, bus.account_number.as_str()),
        (1, "0567805")
    );
    let shop = &file.details[1];
    assert_eq!(
        (shop.bank_code.as_str(), shop.branch_code.as_str()),
        ("0501", "411")
    );
    // A transfer date before the period ends is refused.
    let early = kanjo(&[
        "payout",
        "--data",
        &data,
        "--settlement",
        SETTLEMENT,
        "--transfer-date",
        "2026-11-29",
    ]);
    assert!(!early.status.success() && early.stdout.is_empty());
    assert!(String::from_utf8_lossy(&early.stderr).contains("bad_transfer_date"));
}

#[test]
fn payees_without_bank_details_are_all_named_and_no_file_is_written() {
    let dir = TempDir::new("zengin-missing");
    // 室蘭書店 loses its `bank`, the town bus its [[payees]] table.
    let programme = programme_copy(&dir, |text| {
        let shoten = text.find("id = \"muroran-shoten\"").unwrap();
        let bank = shoten + text[shoten..].find("\nbank = ").unwrap();
        let end = bank + 1 + text[bank + 1..].find('\n').unwrap();
        let text = format!("{}{}", &text[..bank], &text[end..]);
        text.replacen(
            "party = \"operator:town-bus\"",
            "party = \"operator:nobody\"",
            1,
        )
    });
    import_month(&dir, &programme);
    let data = dir.join("data").display().to_string();
    let out = dir.join("furikomi.txt");
    let output = kanjo(&[
        "payout",
        "--data",
        &data,
        "--settlement",
        SETTLEMENT,
        "--transfer-date",
        "2026-12-10",
        "--out",
        &out.display().to_string(),
    ]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(!out.exists(), "no file is written");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad_bank_details"), "{stderr}");
    assert!(stderr.contains("shop:muroran-shoten"), "{stderr}");
    assert!(
        stderr.contains("operator:town-bus"),
        "every bad payee is named: {stderr}"
    );
}

#[test]
fn a_two_digit_branch_or_a_kanji_name_is_refused_at_the_edge_by_payee_and_field() {
    for (from, to, payee, field) in [
        (
            "branch_code = \"411\", branch_name_kana = \"ﾑﾛﾗﾝ\", account_type = \"current\"",
            "branch_code = \"41\", branch_name_kana = \"ﾑﾛﾗﾝ\", account_type = \"current\"",
            "operator:donan-bus",
            "bank.branch_code",
        ),
        (
            "name_kana = \"ﾑﾛﾗﾝｼｺｳﾂｳｷﾖｸ\"",
            "name_kana = \"室蘭市交通局\"",
            "operator:town-bus",
            "name_kana",
        ),
    ] {
        let dir = TempDir::new("zengin-edge");
        let programme = programme_copy(&dir, |text| {
            assert!(text.contains(from), "{from}");
            text.replacen(from, to, 1)
        });
        let data = dir.join("data").display().to_string();
        let riders = ndjson_file(&dir, "riders.ndjson", &[licence_returned_rider("r-1")]);
        let output = kanjo(&[
            "import",
            "--data",
            &data,
            "--programme",
            &programme,
            "--riders",
            &riders,
        ]);
        assert!(!output.status.success(), "{to}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(payee) && stderr.contains(field), "{stderr}");
    }

    // A shop record with a two-digit branch is refused on its own, naming the field.
    let dir = TempDir::new("zengin-shop");
    let data = dir.join("data").display().to_string();
    let server = Server::start(&["--data", &data]);
    let bank = |branch: &str| json!({"bank_code": "0116", "branch_code": branch, "account_type": "ordinary", "account_number": "1234567"});
    let shop = |id: &str, branch: &str| json!({"id": id, "name": "室蘭パン", "name_kana": "ﾑﾛﾗﾝﾊﾟﾝ", "categories": ["grocery"], "bank": bank(branch)});
    let response = server.post(
        "/v1/shops",
        &json!([shop("bakery", "402"), shop("bad-bakery", "40")]).to_string(),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let results = response.json()["results"].clone();
    assert_eq!(results[0]["status"], "accepted", "{results}");
    assert_eq!(results[1]["status"], "rejected");
    let message = results[1]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("bank.branch_code"), "{results}");
    assert_eq!(
        server.get("/v1/shops/bakery").json()["bank"]["branch_code"],
        "402"
    );
}
