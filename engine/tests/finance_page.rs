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
    assert!(
        page.body.contains("id=settlements"),
        "the place for periods and settlements"
    );

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
