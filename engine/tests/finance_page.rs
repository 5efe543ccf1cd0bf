//! `/finance` after a demo month, over HTTP: the figures on the page equal what the API and the
//! reports say, and the resolve form logs a resolution that the API and the page then show.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Server, TempDir};
use kanjo_engine::client::HttpClient;

/// Every `data-figure="KEY">VALUE<` on the page.
fn figures(html: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for part in html.split("data-figure=\"").skip(1) {
        let Some((key, rest)) = part.split_once('"') else {
            continue;
        };
        let Some((_, value)) = rest.split_once('>') else {
            continue;
        };
        let value = value.split('<').next().unwrap_or("");
        found.insert(key.to_owned(), value.to_owned());
    }
    found
}

/// The demo closed November and wrote each party's statement; after a partial payout the
/// page's settlement figures equal `GET /v1/settlements`'s, and its links are the download URLs.
fn check_settlements_section(server: &Server, data: &str) {
    let listed = server.get("/v1/settlements").json();
    let settlements = listed["settlements"].as_array().unwrap();
    assert_eq!(settlements.len(), 1, "the demo closes the month once");
    let november = &settlements[0];
    assert_eq!(november["id"], "settle-2026-11-30");
    let payables = november["payables"].as_array().unwrap();
    assert!(!payables.is_empty(), "the shops are owed their receipts");
    let folder = std::path::Path::new(data).join("statements/settle-2026-11-30");
    for payable in payables {
        let stem = payable["party"].as_str().unwrap().replace(':', "_");
        let csv = std::fs::read(folder.join(format!("{stem}.csv"))).unwrap();
        assert!(
            csv.starts_with("\u{feff}相手先 party".as_bytes()),
            "UTF-8 CSV with a BOM"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join(format!("{stem}.json"))).unwrap())
                .unwrap();
        assert_eq!(json["party"], payable["party"]);
        assert_eq!(
            json["payables"][0]["net_payable_minor"],
            payable["amount_minor"]
        );
    }
    // Pay part of the first payable, so paid and unpaid differ from 0 and from the payable.
    let first = &payables[0];
    let part = first["amount_minor"].as_u64().unwrap() / 3;
    let body = serde_json::json!({"id": "po-page", "settlement": "settle-2026-11-30", "party": first["party"], "asset": first["asset"], "amount_minor": part});
    assert_eq!(server.post("/v1/payouts", &body.to_string()).status, 200);

    let listed = server.get("/v1/settlements").json();
    let page = server.get("/finance");
    let shown = figures(&page.body);
    assert_eq!(shown["settlement:settle-2026-11-30:through"], "2026-11-30");
    let mut checked = 0;
    for payable in listed["settlements"][0]["payables"].as_array().unwrap() {
        let (party, asset) = (
            payable["party"].as_str().unwrap(),
            payable["asset"].as_str().unwrap(),
        );
        let of = |list: &str, pick: &dyn Fn(&serde_json::Value) -> u64| -> u64 {
            listed[list]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["party"] == party && x["asset"] == asset)
                .map(pick)
                .sum()
        };
        let paid = of("payouts", &|p| p["amount_minor"].as_u64().unwrap());
        let settlement = &listed["settlements"][0];
        let recovered: u64 = settlement["advances_recovered"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["party"] == party && x["asset"] == asset)
            .map(|x| x["amount_minor"].as_u64().unwrap())
            .sum();
        let amount = payable["amount_minor"].as_u64().unwrap();
        let key = format!("settlement:settle-2026-11-30:{party}:{asset}");
        assert_eq!(shown[&format!("{key}:payable")], amount.to_string());
        assert_eq!(shown[&format!("{key}:paid")], paid.to_string());
        assert_eq!(
            shown[&format!("{key}:advance_recovered")],
            recovered.to_string()
        );
        assert_eq!(shown[&format!("{key}:unpaid")], (amount - paid).to_string());
        let encoded = party.replace(':', "%3A");
        for format in ["csv", "xlsx"] {
            let link = format!(
                "href=\"/finance/settlements/settle-2026-11-30/statements/{encoded}?format={format}\""
            );
            assert!(page.body.contains(&link), "{link}");
        }
        checked += 1;
    }
    assert_eq!(checked, 3, "three shops");
    assert_eq!(
        shown[&format!(
            "settlement:settle-2026-11-30:{}:{}:paid",
            first["party"].as_str().unwrap(),
            first["asset"].as_str().unwrap()
        )],
        part.to_string()
    );
    assert!(
        page.body
            .contains("href=\"/finance/settlements/settle-2026-11-30/zengin\""),
        "the Zengin download"
    );
}

#[test]
fn the_finance_page_shows_the_reports_figures_and_its_form_resolves_an_exception() {
    let dir = TempDir::new("finance-page");
    let data = dir.path().to_str().unwrap().to_owned();
    common::demo_month(&data);
    let server = Server::start(&["--data", &data]);

    let page = server.get("/finance");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let shown = figures(&page.body);

    let balance = common::report_json(&data, "trial-balance");
    for line in balance["lines"].as_array().unwrap() {
        let asset = line["asset"].as_str().unwrap();
        assert_eq!(
            shown[&format!("tb:{asset}:debits")],
            line["debits_posted"].to_string()
        );
        assert_eq!(
            shown[&format!("tb:{asset}:credits")],
            line["credits_posted"].to_string()
        );
    }
    let mut rides_per_day: BTreeMap<String, u64> = BTreeMap::new();
    for day in common::report_json(&data, "operators").as_array().unwrap() {
        *rides_per_day
            .entry(day["date"].as_str().unwrap().to_owned())
            .or_default() += day["rides"].as_u64().unwrap();
    }
    assert_eq!(rides_per_day.len(), 30, "every day of November has rides");
    for (day, rides) in &rides_per_day {
        assert_eq!(shown[&format!("rides:{day}")], rides.to_string(), "{day}");
    }
    let budget = server.account("budget:transit-subsidy:FY2026").unwrap();
    assert_eq!(
        shown["budget:transit-subsidy:remaining"],
        common::balance_of(&budget).to_string()
    );

    let runs = server.get("/v1/reconciliations").json();
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        let id = run["id"].as_str().unwrap();
        assert_eq!(
            shown[&format!("run:{id}:matched")],
            run["matched"].to_string()
        );
        assert_eq!(
            shown[&format!("run:{id}:open")],
            run["exceptions_open"].to_string()
        );
    }
    check_settlements_section(&server, &data);

    // The form: resolve the IC run's duplicate line.
    let ic = runs.iter().find(|run| run["source"] == "ic").unwrap();
    let id = ic["id"].as_str().unwrap();
    let client = HttpClient::new(Duration::from_secs(30)).unwrap();
    let form = "reason=%E4%BA%8C%E9%87%8D%E9%80%81%E4%BF%A1+(sent+twice)&clerk=%E4%BD%90%E8%97%A4";
    let resolve_path = format!("/finance/reconciliations/{id}/exceptions/1/resolve");
    let post_form = |token: Option<&str>| {
        client
            .request_with_token(
                &server.addr.to_string(),
                "POST",
                &resolve_path,
                "application/x-www-form-urlencoded",
                form.as_bytes().to_vec(),
                token,
            )
            .unwrap()
    };
    assert_eq!(post_form(None).status, 401, "nobody resolves without a key");
    let auditor = common::key_for(server.addr, "auditor").unwrap();
    assert_eq!(
        post_form(Some(&auditor)).status,
        403,
        "an auditor reads but does not resolve"
    );
    let clerk = common::key_for(server.addr, "clerk").unwrap();
    let answer = post_form(Some(&clerk));
    assert_eq!(answer.status, 303);
    let run = server.get(&format!("/v1/reconciliations/{id}")).json();
    assert_eq!(run["exceptions"][0]["resolution"]["clerk"], "佐藤");
    assert_eq!(
        run["exceptions"][0]["resolution"]["reason"],
        "二重送信 (sent twice)"
    );
    assert_eq!(run["exceptions_open"], 0);
    let page = server.get("/finance");
    assert_eq!(figures(&page.body)[&format!("run:{id}:open")], "0");
    assert!(page.body.contains("佐藤"));
}
