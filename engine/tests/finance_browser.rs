//! `/finance` in a real browser: Debian's chromium driven through chromedriver (fantoccini),
//! against `kanjo serve` after `kanjo demo --month`. The figures on screen equal the reports' and
//! the API's, and a clerk resolves one exception with the page's form. Set
//! `KANJO_FINANCE_SCREENSHOT=docs/finance.png` to keep a screenshot of the page.
//! Needs `chromium` and `chromium-driver` (ops/scripts/test installs them when missing).

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, TempDir};
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Fetches a URL in the page (same origin, with its cookie) and hands back status, type, bytes.
const FETCH_BYTES: &str = "const [href, done] = [arguments[0], arguments[arguments.length - 1]];
fetch(href, {credentials: 'same-origin'})
  .then(r => r.arrayBuffer().then(b => done({status: r.status,
    type: r.headers.get('content-type'), bytes: Array.from(new Uint8Array(b))})))
  .catch(e => done({status: 0, error: String(e)}));";
const CHROMEDRIVER: &str = "chromedriver";
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver(port: u16) -> Driver {
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install chromium chromium-driver)");
    let driver = Driver(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < DRIVER_START_TIMEOUT,
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

#[test]
fn a_clerk_sees_the_apis_figures_in_chromium_downloads_a_statement_and_the_zengin_file_and_resolves_an_exception()
 {
    let dir = TempDir::new("finance-browser");
    let data = dir.path().to_str().unwrap().to_owned();
    common::demo_month(&data);
    let server = Server::start(&["--data", &data]);
    let port = free_port();
    let _driver = start_driver(port);
    let profile = TempDir::new("chromium-profile");

    let balance = common::report_json(&data, "trial-balance");
    let runs = server.get("/v1/reconciliations").json();
    let ic_run = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["source"] == "ic")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let settled = server.get("/v1/settlements").json();
    let base = format!("http://{}", server.addr);
    // What the page's downloads must equal: the API's statement and `kanjo payout`'s file.
    let settlement = settled["settlements"][0]["id"].as_str().unwrap().to_owned();
    let party = settled["settlements"][0]["payables"][0]["party"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_csv = server.get(&format!(
        "/v1/settlements/{settlement}/statements/{party}?format=csv"
    ));
    assert_eq!(api_csv.status, 200, "{}", api_csv.body);
    let cli = common::kanjo(&["payout", "--settlement", &settlement, "--data", &data]);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let clerk = common::key_for(server.addr, "clerk").unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,3600",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let browser = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session");

        // Without a key the page sends the clerk to sign in; the clerk pastes their key once.
        browser.goto(&format!("{base}/finance")).await.unwrap();
        let url = browser.current_url().await.unwrap();
        assert_eq!(url.path(), "/finance/login");
        let login = browser.find(Locator::Css("form")).await.unwrap();
        login
            .find(Locator::Css("input[name=token]"))
            .await
            .unwrap()
            .send_keys(&clerk)
            .await
            .unwrap();
        login
            .find(Locator::Css("button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let url = browser.current_url().await.unwrap();
        assert_eq!(url.path(), "/finance");
        let mut shown = BTreeMap::new();
        for element in browser
            .find_all(Locator::Css("[data-figure]"))
            .await
            .unwrap()
        {
            let key = element.attr("data-figure").await.unwrap().unwrap();
            shown.insert(key, element.text().await.unwrap());
        }
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
        for run in runs["runs"].as_array().unwrap() {
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
        // Periods and settlements: each payable and what is paid of it, as the API has them.
        let mut payables = 0;
        for settlement in settled["settlements"].as_array().unwrap() {
            let id = settlement["id"].as_str().unwrap();
            for payable in settlement["payables"].as_array().unwrap() {
                let (party, asset) = (
                    payable["party"].as_str().unwrap(),
                    payable["asset"].as_str().unwrap(),
                );
                let paid: u64 = settled["payouts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["settlement"] == id && p["party"] == party && p["asset"] == asset)
                    .map(|p| p["amount_minor"].as_u64().unwrap())
                    .sum();
                let key = format!("settlement:{id}:{party}:{asset}");
                assert_eq!(
                    shown[&format!("{key}:payable")],
                    payable["amount_minor"].to_string()
                );
                assert_eq!(shown[&format!("{key}:paid")], paid.to_string());
                payables += 1;
            }
        }
        assert!(payables > 0, "the demo month's close owes the shops");
        if let Ok(path) = std::env::var("KANJO_FINANCE_SCREENSHOT") {
            let png = browser.screenshot().await.unwrap();
            std::fs::write(path, png).unwrap();
        }

        // The page's own download links, fetched by the signed-in browser (its cookie).
        let link = |name: String| {
            let browser = browser.clone();
            async move {
                let css = format!("a[data-link='{name}']");
                let anchor = browser.find(Locator::Css(&css)).await.expect("the link");
                let href = anchor.attr("href").await.unwrap().expect("an href");
                let fetched = browser
                    .execute_async(FETCH_BYTES, vec![json!(href)])
                    .await
                    .unwrap();
                assert_eq!(fetched["status"], 200, "{href}: {fetched}");
                let bytes: Vec<u8> = serde_json::from_value(fetched["bytes"].clone()).unwrap();
                (
                    fetched["type"].as_str().unwrap_or_default().to_owned(),
                    bytes,
                )
            }
        };
        let (kind, csv) = link(format!("statement-csv:{settlement}:{party}")).await;
        assert!(kind.starts_with("text/csv"), "{kind}");
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            api_csv.body,
            "the page's CSV is the API's"
        );
        let (kind, zengin) = link(format!("zengin:{settlement}")).await;
        assert!(kind.contains("Shift_JIS"), "{kind}");
        assert_eq!(
            zengin, cli.stdout,
            "the page's Zengin file is kanjo payout's"
        );
        assert_eq!(zengin.len() % 122, 0, "120-byte records with CR LF");

        let form = format!("tr[data-exception='{ic_run}:1'] form");
        let form = browser.find(Locator::Css(&form)).await.unwrap();
        form.find(Locator::Css("input[name=reason]"))
            .await
            .unwrap()
            .send_keys("清算センターの二重送信")
            .await
            .unwrap();
        form.find(Locator::Css("input[name=clerk]"))
            .await
            .unwrap()
            .send_keys("佐藤")
            .await
            .unwrap();
        form.find(Locator::Css("button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The click navigates (POST, then a redirect to /finance): poll the figure until the new
        // page shows it, instead of racing the navigation (the old page shows the same figure).
        let figure = Locator::Css(&format!("[data-figure='run:{ic_run}:open']"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut open = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = browser.find(figure).await {
                open = element.text().await.unwrap_or_default();
                if open == "0" {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(open, "0", "the exception is resolved on the page");
        browser.close().await.unwrap();
    });
    let run = server.get(&format!("/v1/reconciliations/{ic_run}")).json();
    assert_eq!(run["exceptions"][0]["resolution"]["clerk"], "佐藤");
    assert_eq!(
        run["exceptions"][0]["resolution"]["reason"],
        "清算センターの二重送信"
    );
}
