//! A tiny election, a tiny commuter morning and a tiny festival at the shops, in-process on the embedded store, end to end with
//! every check; against the naive PostgreSQL baseline too when KANJO_TEST_PG_URL is set (as
//! ops/scripts/test does).

use std::path::PathBuf;

use kanjo_loadtest::run::{
    CommonArgs, CommuterArgs, ElectionArgs, StoreKind, TargetKind, run_commuter, run_election,
};
use kanjo_loadtest::shops::{ShopsArgs, run_shops};

fn common(report_dir: PathBuf) -> CommonArgs {
    let pg_url = std::env::var("KANJO_TEST_PG_URL").ok();
    CommonArgs {
        quick: true,
        seed: 7,
        rate: Some(20_000.0),
        find_max: false,
        start_rate: 20_000.0,
        p99_bound_ms: 1_000.0,
        max_events: Some(4_000),
        duration_s: Some(0.5),
        batch: 200,
        lanes: 2,
        target: TargetKind::Inproc,
        url: None,
        store: StoreKind::Sqlite,
        data: None,
        database_url: None,
        programme: None,
        no_baseline: pg_url.is_none(),
        pg_url: pg_url.unwrap_or_default(),
        baseline_connections: 4,
        baseline_start_rate: 400.0,
        json: true,
        report_dir,
        no_report: false,
        keep: false,
    }
}

fn report_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kanjo-load-test-{name}-{}", std::process::id()))
}

#[test]
fn a_tiny_election_rejects_every_retry_and_passes_every_check() {
    let dir = report_dir("election");
    let args = ElectionArgs {
        common: common(dir.clone()),
        voters: Some(3_000),
        stations: 12,
        day_rate: 20_000.0,
    };
    let summary = run_election(&args, "test".into()).expect("the run completes");
    assert!(summary.correct, "{}", summary.to_text());
    assert!(summary.kanjo_checks.no_double_redemption && summary.kanjo_checks.trial_balance_holds);
    assert!(
        summary.events > 500,
        "the polling day was measured: {}",
        summary.events
    );
    let report = summary.report.expect("a report was written");
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("latency")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_tiny_commuter_morning_passes_every_check() {
    let dir = report_dir("commuter");
    let args = CommuterArgs {
        common: common(dir.clone()),
        scale: Some(1),
    };
    let summary = run_commuter(&args, "test".into()).expect("the run completes");
    assert!(summary.correct, "{}", summary.to_text());
    assert!(summary.events >= 2_000, "{}", summary.events);
    assert!(summary.kanjo_events_per_sec > 0.0 && summary.p99_ms > 0.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_tiny_festival_accepts_every_payment_refuses_every_replayed_token_and_riders_spend_what_shops_net_plus_fees()
 {
    let dir = report_dir("shops");
    let mut common = common(dir.clone());
    // The shops run has no baseline; it is compared with the commuter run instead.
    common.no_baseline = true;
    let args = ShopsArgs {
        common,
        residents: 2_000,
        shops: 30,
        actions: Some(4_000),
    };
    let summary = run_shops(&args, "test".into()).expect("the run completes");
    assert!(summary.correct, "{}", summary.to_text());
    assert!(
        summary.kanjo_checks.answers_as_expected,
        "{}",
        summary.to_text()
    );
    assert!(summary.events >= 4_000, "{}", summary.events);
    assert!(summary.kanjo_events_per_sec > 0.0 && summary.p99_ms > 0.0);
    // 1 % of the actions replayed a customer token, and kanjo refused every replay as used.
    let replays = summary.kanjo_checks.token_replays.clone().expect("counted");
    assert!(replays.sent > 0, "{replays:?}");
    assert_eq!(replays.refused_token_used, replays.sent, "{replays:?}");
    assert_eq!(replays.accepted, 0);
    assert!(replays.first_uses_sent >= replays.sent);
    assert_eq!(replays.first_uses_accepted, replays.first_uses_sent);
    assert!(summary.to_text().contains("replayed customer tokens"));
    // The spend check ran on every asset the festival funded, and found them equal.
    for asset in ["JPY", "SUZU", "muro-pt", "bus-pt"] {
        assert!(
            summary
                .notes
                .iter()
                .any(|note| note.starts_with(&format!("{asset}: funded"))),
            "{asset}: {:?}",
            summary.notes
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
