//! `kanjo demo` runs a Muroran morning end to end on a fresh embedded store and ends balanced;
//! the store it leaves replays, in another process, to the very reports it printed, and the
//! operator report reconciles with the operators' ledger accounts; the afternoon's shop
//! statement replays too and reconciles with the shop and fee accounts.

mod common;

use common::{TempDir, kanjo};

#[test]
fn kanjo_demo_exits_zero_prints_balanced_and_its_store_replays_to_the_same_reports() {
    let dir = TempDir::new("demo");
    let data = dir.join("demo-store");
    let data = data.to_str().expect("a UTF-8 temp path");
    let demo = kanjo(&["demo", "--data", data, "--voters", "500"]);
    let stdout = String::from_utf8_lossy(&demo.stdout);
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert!(
        demo.status.success(),
        "kanjo demo failed: {}\n{stdout}\n{stderr}",
        demo.status
    );
    assert!(stdout.contains("balanced"), "{stdout}");
    assert!(
        stdout.contains("already_redeemed"),
        "the walkthrough's second check-in is refused:\n{stdout}"
    );

    let trial_balance = kanjo(&["report", "trial-balance", "--data", data]);
    let output = String::from_utf8_lossy(&trial_balance.stdout);
    assert!(
        trial_balance.status.success(),
        "{output}{}",
        String::from_utf8_lossy(&trial_balance.stderr)
    );
    // The report ends with the log's chain head (for publishing), which the demo does not print.
    let (replayed, head) = output
        .trim_end_matches('\n')
        .rsplit_once('\n')
        .expect("the report has lines");
    assert!(head.starts_with("chain head: "), "{output}");
    assert!(
        stdout.contains(replayed),
        "the replayed trial balance is the one the demo printed:\n{replayed}\n---\n{stdout}"
    );

    let operators = kanjo(&["report", "operators", "--data", data]);
    let replayed = String::from_utf8_lossy(&operators.stdout);
    assert!(
        operators.status.success(),
        "{replayed}{}",
        String::from_utf8_lossy(&operators.stderr)
    );
    assert!(replayed.contains("donan-bus"), "{replayed}");
    assert!(
        stdout.contains(&*replayed),
        "the replayed operator report is the one the demo printed:\n{replayed}\n---\n{stdout}"
    );

    reconcile_operators_with_the_ledger(data);
    the_afternoon_at_the_shops(&stdout, data);
    the_pupils_passes(&stdout, data);
}

/// 200 pupils get the pass and ride the town bus three times: the pass covers two rides a day,
/// so 400 rides are covered and the town owes the operator their fares (¥100 each); the report
/// replays from the store exactly as the demo printed it.
fn the_pupils_passes(stdout: &str, data: &str) {
    let output = kanjo(&["report", "passes", "--data", data]);
    let replayed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{replayed}");
    assert!(stdout.contains(&*replayed), "{replayed}\n---\n{stdout}");
    let output = kanjo(&["report", "passes", "--data", data, "--json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("kanjo report passes --json prints JSON");
    let product = &report["products"][0];
    assert_eq!(product["issued"], 200, "{report}");
    assert_eq!(product["rides_covered"], 400, "{report}");
    let owed: i64 = report["owed"]
        .as_array()
        .expect("owed lines")
        .iter()
        .filter(|line| line["operator"] == "town-bus")
        .map(|line| line["owed"].as_i64().expect("an amount"))
        .sum();
    assert_eq!(owed, 400 * 100, "{report}");
}

/// The afternoon: the walkthrough's answers, the statement printed and replayed, and the
/// statement reconciled with the ledger (per shop and asset Σ net = the shop account; per asset
/// Σ fees = the fee account).
fn the_afternoon_at_the_shops(stdout: &str, data: &str) {
    for expected in [
        r#""type":"purchase""#,
        r#""type":"capture""#,
        r#""type":"refund""#,
        r#""type":"send""#,
        "not_transferable",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
    let output = kanjo(&["report", "shops", "--data", data]);
    let replayed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{replayed}");
    for label in ["店舗", "日付", "資産", "売上", "手数料", "返金", "純額"] {
        assert!(replayed.contains(label), "{replayed}");
    }
    assert!(
        replayed.contains("muroran-hire") && replayed.contains("bus-pt"),
        "{replayed}"
    );
    assert!(
        stdout.contains(&*replayed),
        "the replayed shop statement is the one the demo printed:\n{replayed}\n---\n{stdout}"
    );

    let output = kanjo(&["report", "shops", "--json", "--data", data]);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let days = report["days"].as_array().expect("days");
    let number = |value: &serde_json::Value| value.as_i64().expect("an amount") as i128;
    let mut nets: std::collections::BTreeMap<(String, String), i128> = Default::default();
    for day in days {
        assert_eq!(
            number(&day["net_minor"]),
            number(&day["sales_minor"])
                - number(&day["fees_minor"])
                - number(&day["refunds_minor"]),
            "{day}"
        );
        *nets
            .entry((
                day["shop"].as_str().unwrap().into(),
                day["asset"].as_str().unwrap().into(),
            ))
            .or_default() += number(&day["net_minor"]);
    }
    assert!(
        days.iter().any(|day| number(&day["refunds_minor"]) > 0),
        "a refund"
    );
    for ((shop, asset), net) in nets {
        assert_eq!(
            balance(data, &format!("shop:{shop}:{asset}")),
            net,
            "{shop} {asset}"
        );
    }
    for total in report["totals"].as_array().expect("totals") {
        let asset = total["asset"].as_str().unwrap();
        if number(&total["fees_minor"]) > 0 {
            assert_eq!(
                balance(data, &format!("fees:{asset}")),
                number(&total["fees_minor"]),
                "fees {asset}"
            );
        }
    }
}

fn balance(data: &str, account: &str) -> i128 {
    let output = kanjo(&["balance", "--data", data, account]);
    assert!(
        output.status.success(),
        "kanjo balance {account}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("kanjo balance prints JSON");
    value["balance"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .expect("a decimal balance")
}

/// The settlement report and the ledger are two views of the same postings: per operator, what
/// riders paid is the fares account, the subsidy due is the subsidy account, cash is the cash
/// account; every fare is paid, subsidised or waived by a cap.
fn reconcile_operators_with_the_ledger(data: &str) {
    let output = kanjo(&["report", "operators", "--json", "--data", data]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let days: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("the report as JSON");
    assert!(!days.is_empty());
    let mut operators: std::collections::BTreeMap<String, (i128, i128, i128)> = Default::default();
    let number = |value: &serde_json::Value| i128::from(value.as_u64().expect("a count of yen"));
    for day in &days {
        let subsidy: i128 = day["subsidy_due"]
            .as_object()
            .expect("per budget")
            .values()
            .map(number)
            .sum();
        let paid = number(&day["paid_by_riders"]);
        assert_eq!(
            number(&day["fares"]),
            paid + subsidy + number(&day["cap_waived"]),
            "{day}"
        );
        assert_eq!(
            paid,
            number(&day["paid_wallet"]) + number(&day["paid_cash"]) + number(&day["paid_ic"]),
            "{day}"
        );
        let totals = operators
            .entry(day["operator"].as_str().expect("an operator").to_owned())
            .or_default();
        totals.0 += paid;
        totals.1 += subsidy;
        totals.2 += number(&day["paid_cash"]);
    }
    for (operator, (paid, subsidy, cash)) in operators {
        assert_eq!(
            balance(data, &format!("operator:{operator}:fares")),
            paid,
            "{operator} fares"
        );
        assert_eq!(
            balance(data, &format!("operator:{operator}:subsidy")),
            subsidy,
            "{operator} subsidy"
        );
        assert_eq!(
            balance(data, &format!("operator:{operator}:cash")),
            cash,
            "{operator} cash"
        );
    }
}
