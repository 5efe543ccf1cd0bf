//! Statements as files (issue 10): `kanjo statement --format json|csv|xlsx` on a replayed
//! store, the XLSX read back with calamine (an independent reader), the CSV against the JSON,
//! and `GET /v1/settlements/{id}/statements/{party}` (and `/finance`'s twin) with each role.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::{Server, TempDir, import_r1, kanjo, key_for, topup};
use kanjo_engine::client::HttpClient;
use serde_json::{Value, json};

const SETTLEMENT: &str = "settle-2026-11-30";

/// Half-fare wallet rides on the town bus (licence returned), ¥1 000 at 室蘭書店 and ¥500 at
/// やきとり一平.
fn november_events() -> Vec<Value> {
    let ride = |id: &str, at: &str| json!({"id": id, "type": "ride", "at": at, "operator": "town-bus", "rider": "r-1", "media": "wallet"});
    let purchase = |id: &str, shop: &str, amount: u64| json!({"id": id, "type": "purchase", "at": "2026-11-27T12:00:00+09:00", "shop": shop, "rider": "r-1", "amount": amount, "pay_with": ["JPY"]});
    vec![
        topup("t-1", "r-1", "JPY", 5_000, "2026-11-20T09:00:00+09:00"),
        ride("ride-1", "2026-11-26T07:00:00+09:00"),
        ride("ride-2", "2026-11-26T08:00:00+09:00"),
        ride("ride-3", "2026-11-27T18:00:00+09:00"),
        purchase("p-1", "muroran-shoten", 1_000),
        purchase("p-2", "yakitori-ippei", 500),
    ]
}

fn run_ok(args: &[&str]) -> Vec<u8> {
    common::kanjo_ok(args)
}

/// A store with November imported and settled; its `--data` path.
fn settled_store(dir: &TempDir) -> String {
    let programme = common::programme_path().display().to_string();
    let data = import_r1(dir, &programme, &november_events());
    run_ok(&["settle", "--data", &data, "--through", "2026-11-30"]);
    data
}

/// Per party and asset, the JSON statements' net payables.
fn json_payables(statements: &Value) -> Vec<(String, String, i64)> {
    let mut payables = Vec::new();
    for statement in statements.as_array().expect("an array of statements") {
        for payable in statement["payables"].as_array().expect("payables") {
            payables.push((
                statement["party"].as_str().unwrap().to_owned(),
                payable["asset"].as_str().unwrap().to_owned(),
                payable["net_payable_minor"].as_i64().unwrap(),
            ));
        }
    }
    payables
}

fn assert_breakdowns_sum_to_totals(statement: &Value) {
    let rides = &statement["rides"];
    for breakdown in ["by_class", "by_rule"] {
        for field in ["rides", "fares", "rider_pays", "discount", "cap_waived"] {
            let sum: u64 = rides[breakdown]
                .as_array()
                .expect("a breakdown")
                .iter()
                .map(|row| row[field].as_u64().unwrap())
                .sum();
            assert_eq!(
                sum,
                rides["totals"][field].as_u64().unwrap(),
                "{breakdown} {field}"
            );
        }
    }
}

#[test]
fn every_partys_statement_as_json_csv_and_xlsx_agree_to_the_yen() {
    let dir = TempDir::new("statement-files");
    let data = settled_store(&dir);
    let base = ["statement", "--data", &data, "--settlement", SETTLEMENT];

    let json: Value = serde_json::from_slice(&run_ok(&[&base[..], &["--format", "json"]].concat()))
        .expect("JSON");
    let parties: Vec<&str> = json
        .as_array()
        .expect("every party: an array")
        .iter()
        .map(|s| s["party"].as_str().unwrap())
        .collect();
    assert_eq!(
        parties,
        vec![
            "operator:town-bus",
            "shop:muroran-shoten",
            "shop:yakitori-ippei"
        ]
    );
    let bus = &json[0];
    assert_eq!(bus["rides"]["totals"]["rides"], 3);
    assert_eq!(bus["rides"]["by_class"][0]["key"], "licence-returned-half");
    assert_breakdowns_sum_to_totals(bus);
    let payables = json_payables(&json);

    let csv =
        String::from_utf8(run_ok(&[&base[..], &["--format", "csv"]].concat())).expect("UTF-8");
    assert!(csv.starts_with('\u{feff}'), "the CSV starts with a BOM");
    assert!(csv.ends_with("\r\n") && !csv.replace("\r\n", "").contains('\n'));
    let mut csv_payables = Vec::new();
    for line in csv.lines() {
        let cells: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
        if cells.get(1) == Some(&"合計 total") && cells[4] == "支払予定額 net payable" {
            csv_payables.push((
                cells[0].to_owned(),
                cells[3].to_owned(),
                cells[5].parse().unwrap(),
            ));
        }
    }
    assert_eq!(csv_payables, payables, "the CSV's totals are the JSON's");

    let out = dir.join("all.xlsx");
    let out_text = out.display().to_string();
    run_ok(&[&base[..], &["--format", "xlsx", "--out", &out_text]].concat());
    let bytes = std::fs::read(&out).expect("the XLSX file");
    assert_xlsx_matches(&bytes, &payables);
    // stdout is a pipe here, so XLSX may go to it.
    let piped = run_ok(
        &[
            &base[..],
            &["--format", "xlsx", "--party", "shop:muroran-shoten"],
        ]
        .concat(),
    );
    assert!(piped.starts_with(b"PK"), "an XLSX (zip) on stdout");

    let unknown = kanjo(&[&base[..], &["--party", "shop:nobody"]].concat());
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("settled nothing"));
}

/// One sheet per party; amounts are number cells; each net payable total is a formula whose
/// value equals the sum of the settlement and adjustment lines of its asset, and the JSON's.
fn assert_xlsx_matches(bytes: &[u8], payables: &[(String, String, i64)]) {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("an XLSX");
    let names = book.sheet_names();
    assert_eq!(
        names,
        vec![
            "運行 town-bus",
            "店舗 muroran-shoten",
            "店舗 yakitori-ippei"
        ]
    );
    let mut checked = 0;
    for name in &names {
        let range = book.worksheet_range(name).expect("a sheet");
        let formulas = book.worksheet_formula(name).expect("formulas");
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(rows[2][0], Data::String("区分 section".into()));
        assert_eq!(rows[2][4], Data::String("金額 amount".into()));
        let party = rows[0][1].to_string();
        for (at, row) in rows.iter().enumerate().skip(3) {
            let section = row[0].to_string();
            if section.is_empty() || row[4] == Data::Empty {
                continue;
            }
            assert!(
                matches!(row[4], Data::Float(_) | Data::Int(_)),
                "a number cell: {row:?}"
            );
            if section != "合計 total" || row[3] != "支払予定額 net payable" {
                continue;
            }
            let asset = row[2].to_string();
            let lines: f64 = rows
                .iter()
                .filter(|line| {
                    let section = line[0].to_string();
                    (section == "精算明細 settlement line" || section == "調整 adjustment")
                        && line[2].to_string() == asset
                })
                .map(|line| number(&line[4]))
                .sum();
            let total = number(&row[4]);
            assert_eq!(
                total, lines,
                "{party} {asset}: the total is the sum of the lines"
            );
            let expected = payables
                .iter()
                .find(|(p, a, _)| *p == party && *a == asset)
                .expect("the JSON has the payable");
            assert_eq!(total, expected.2 as f64);
            let formula = formulas
                .get_value((at as u32, 4))
                .expect("the total is a formula");
            assert!(formula.starts_with("SUMIFS("), "{formula}");
            checked += 1;
        }
    }
    assert_eq!(checked, payables.len(), "a total per payable");
}

/// A number cell's value; text that looks like a number is not one.
fn number(cell: &Data) -> f64 {
    match cell {
        Data::Float(value) => *value,
        Data::Int(value) => *value as f64,
        other => panic!("not a number cell: {other:?}"),
    }
}

struct Download {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn code(&self) -> String {
        let value: Value = serde_json::from_slice(&self.body).expect("a JSON error");
        value["error"]["code"].as_str().unwrap_or("").to_owned()
    }
}

fn get(server: &Server, role: &str, path: &str) -> Download {
    let token = key_for(server.addr, role).expect("a key");
    let client = HttpClient::new(std::time::Duration::from_secs(30)).expect("a client");
    let response = client
        .request_with_token(
            &server.addr.to_string(),
            "GET",
            path,
            "application/json",
            Vec::new(),
            Some(&token),
        )
        .expect("an answer");
    Download {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }
}

#[test]
fn each_key_reads_only_the_statements_its_role_may() {
    let dir = TempDir::new("statement-api");
    let data = settled_store(&dir);
    let server = Server::start(&["--data", &data]);
    let path = |party: &str, format: &str| {
        format!("/v1/settlements/{SETTLEMENT}/statements/{party}?format={format}")
    };

    let own = get(
        &server,
        "shop:muroran-shoten",
        &path("shop:muroran-shoten", "csv"),
    );
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    assert_eq!(own.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        own.header("content-disposition"),
        Some("attachment; filename=\"statement-settle-2026-11-30-shop_muroran-shoten.csv\"")
    );
    assert!(own.body.starts_with("\u{feff}".as_bytes()));
    let csv = String::from_utf8(own.body).expect("UTF-8");
    assert!(csv.contains("shop:muroran-shoten,合計 total,,JPY,支払予定額 net payable,995\r\n"));

    let other = get(
        &server,
        "shop:yakitori-ippei",
        &path("shop:muroran-shoten", "csv"),
    );
    assert_eq!((other.status, other.code().as_str()), (403, "forbidden"));
    let operator = get(
        &server,
        "operator:town-bus",
        &path("shop:muroran-shoten", "json"),
    );
    assert_eq!(operator.status, 403);

    for party in [
        "operator:town-bus",
        "shop:muroran-shoten",
        "shop:yakitori-ippei",
    ] {
        let json = get(&server, "clerk", &path(party, "json"));
        assert_eq!(json.status, 200);
        let statement: Value = serde_json::from_slice(&json.body).expect("JSON");
        assert_eq!(statement["party"], party);
        let xlsx = get(&server, "clerk", &path(party, "xlsx"));
        assert_eq!(xlsx.status, 200);
        assert_eq!(
            xlsx.header("content-type"),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        assert!(
            xlsx.header("content-disposition")
                .unwrap()
                .ends_with(".xlsx\"")
        );
        let payables = json_payables(&Value::Array(vec![statement]));
        let book: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx.body)).expect("an XLSX");
        assert_eq!(book.sheet_names().len(), 1, "one party, one sheet");
        let again = get(&server, "auditor", &path(party, "xlsx"));
        assert_xlsx_payables(&again.body, &payables);
    }
    let finance =
        format!("/finance/settlements/{SETTLEMENT}/statements/operator:town-bus?format=xlsx");
    let twin = get(&server, "clerk", &finance);
    assert_eq!(twin.status, 200);
    assert!(twin.body.starts_with(b"PK"));
    let finance_json =
        format!("/finance/settlements/{SETTLEMENT}/statements/operator:town-bus?format=json");
    assert_eq!(get(&server, "clerk", &finance_json).code(), "bad_query");

    let missing = get(
        &server,
        "clerk",
        "/v1/settlements/settle-2026-10-31/statements/shop:muroran-shoten",
    );
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (404, "unknown_settlement")
    );
    let nobody = get(&server, "clerk", &path("shop:nobody", "json"));
    assert_eq!(
        (nobody.status, nobody.code().as_str()),
        (404, "unknown_party")
    );
    let bad_format = get(&server, "clerk", &path("shop:muroran-shoten", "pdf"));
    assert_eq!(
        (bad_format.status, bad_format.code().as_str()),
        (400, "bad_query")
    );
    let bad_party = get(&server, "clerk", &path("muroran-shoten", "csv"));
    assert_eq!(
        (bad_party.status, bad_party.code().as_str()),
        (400, "bad_path")
    );
    // A party id the log could not hold, or a My Number, is in no settlement: 404, never echoed.
    let long = format!("shop:{}", "a".repeat(200));
    for party in [long.as_str(), "shop:%01x", "shop:1234-5678-9012"] {
        let refused = get(&server, "clerk", &path(party, "csv"));
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (404, "unknown_party"),
            "{party}"
        );
        let body = String::from_utf8_lossy(&refused.body);
        assert!(!body.contains("9012") && !body.contains("aaaa"), "{body}");
    }
    server.kill();
}

fn assert_xlsx_payables(bytes: &[u8], payables: &[(String, String, i64)]) {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("an XLSX");
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).expect("a sheet");
    let totals: Vec<(String, f64)> = range
        .rows()
        .filter(|row| row[0] == "合計 total" && row[3] == "支払予定額 net payable")
        .map(|row| (row[2].to_string(), number(&row[4])))
        .collect();
    let expected: Vec<(String, f64)> = payables
        .iter()
        .map(|(_, asset, amount)| (asset.clone(), *amount as f64))
        .collect();
    assert_eq!(totals, expected);
}
