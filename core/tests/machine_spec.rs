//! The state machine's rules, one test each, on the repository's Muroran programme.
//! No store and no threads: events go straight into `Machine::apply`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kanjo_core::answer::{Outcome, RejectionCode};
use kanjo_core::chart::{AccountName, AssetBook, AssetSection};
use kanjo_core::event::Event;
use kanjo_core::machine::{Machine, MachineConfig, Prepared};
use kanjo_core::report::trial_balance;
use kanjo_core::riders::parse_riders;
use kanjo_rules::Programme;

fn programme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml")
}

/// The programme and its `[[assets]]` section, read as the engine reads them.
fn load_programme(path: &Path) -> Result<(Arc<Programme>, AssetBook), String> {
    let programme = Programme::load(path).map_err(|error| error.to_string())?;
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let section: AssetSection = toml::from_str(&text).map_err(|error| error.to_string())?;
    let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
    let assets = AssetBook::new(&path.display().to_string(), section.assets, &granted)
        .map_err(|error| error.to_string())?;
    Ok((Arc::new(programme), assets))
}

struct Town {
    machine: Machine,
    clock_ns: u64,
}

impl Town {
    fn new() -> Town {
        let (programme, assets) =
            load_programme(&programme_path()).expect("the demo programme loads");
        let machine = Machine::new(Arc::clone(&programme), assets, MachineConfig::default())
            .expect("genesis");
        let mut town = Town {
            machine,
            // The batch clock is the wall time of processing: after every event of these tests.
            clock_ns: "2026-12-31T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .expect("a valid instant")
                .as_nanosecond() as u64,
        };
        town.riders(&[
            r#"{"rider":"senior","birth_date":"1948-05-02","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
            r#"{"rider":"adult","birth_date":"1985-12-12","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
            r#"{"rider":"visitor","birth_date":"1985-12-12","residence":"011002","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
        ]);
        town
    }

    fn riders(&mut self, lines: &[&str]) {
        self.clock_ns += 1;
        self.machine.begin_batch(self.clock_ns);
        for item in parse_riders(&lines.join("\n")).unwrap() {
            let record = item.unwrap().record;
            self.machine.upsert_rider(record).unwrap();
        }
    }

    /// One batch of events, each given as JSON text.
    fn batch(&mut self, events: &[&str]) -> Vec<Outcome> {
        self.clock_ns += 1;
        self.machine.begin_batch(self.clock_ns);
        let outcomes = events
            .iter()
            .map(|json| {
                self.machine
                    .apply(&Prepared::new(Event::parse(json).expect("a valid event")))
            })
            .collect();
        self.machine.expire_taps();
        assert!(
            trial_balance(&self.machine).balanced,
            "the trial balance holds after every batch"
        );
        outcomes
    }

    fn one(&mut self, event: &str) -> Outcome {
        self.batch(&[event]).remove(0)
    }

    fn balance(&self, name: &AccountName) -> i128 {
        self.machine
            .ledger()
            .account(name.id())
            .map_or(0, |account| account.credit_balance_posted())
    }
}

fn rejected_code(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Rejected(rejection) => rejection.code.code(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

const FARES: AccountName<'static> = AccountName::OperatorFares {
    operator: "donan-bus",
};
const SUBSIDY: AccountName<'static> = AccountName::OperatorSubsidy {
    operator: "donan-bus",
};

#[test]
fn a_wallet_ride_debits_the_wallet_and_credits_the_operator() {
    let mut town = Town::new();
    town.one(r#"{"id":"u1","type":"topup","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"JPY","amount":1000}"#);
    let outcome = town.one(r#"{"id":"e1","type":"ride","at":"2026-11-26T07:45:00+09:00","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"adult","media":"wallet"}"#);
    let Outcome::Ride(ride) = outcome else {
        panic!("{outcome:?}")
    };
    // 330 yen fare; the resident rule caps the rider at 200, the town pays 130.
    assert_eq!((ride.fare, ride.rider_pays, ride.discount), (330, 200, 130));
    assert_eq!(
        town.balance(&AccountName::Rider {
            rider: "adult",
            asset: "JPY"
        }),
        800
    );
    assert_eq!(town.balance(&FARES), 200);
    assert_eq!(town.balance(&SUBSIDY), 130);
    assert_eq!(
        town.balance(&AccountName::Rider {
            rider: "adult",
            asset: "muro-pt"
        }),
        10
    );
}

#[test]
fn a_wallet_that_cannot_pay_declines_the_ride_and_posts_nothing() {
    let mut town = Town::new();
    town.one(r#"{"id":"u1","type":"topup","at":"2026-11-26T07:00:00+09:00","rider":"visitor","asset":"JPY","amount":100}"#);
    let outcome = town.one(r#"{"id":"e1","type":"ride","at":"2026-11-26T07:45:00+09:00","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"visitor","media":"wallet"}"#);
    assert_eq!(rejected_code(&outcome), "insufficient_funds");
    assert_eq!(
        town.balance(&AccountName::Rider {
            rider: "visitor",
            asset: "JPY"
        }),
        100
    );
    assert_eq!(town.balance(&FARES), 0);
}

#[test]
fn a_rejected_event_opens_no_account() {
    let mut town = Town::new();
    town.one(r#"{"id":"u1","type":"topup","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"JPY","amount":100}"#);
    let accounts = town.machine.ledger().account_count();
    let points = AccountName::Rider {
        rider: "adult",
        asset: "muro-pt",
    };
    // The resident's ride would earn points into a holding they don't have yet; the wallet
    // can't pay the 200 yen, and the answer is the one the ledger's refusal gives.
    let ride = |id: &str| {
        format!(
            r#"{{"id":"{id}","type":"ride","at":"2026-11-26T07:45:00+09:00","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"adult","media":"wallet"}}"#
        )
    };
    let Outcome::Rejected(declined) = town.one(&ride("e1")) else {
        panic!("the wallet can't pay")
    };
    assert_eq!(declined.code, RejectionCode::InsufficientFunds);
    assert_eq!(
        &*declined.message,
        "the wallet holds 100 yen, the ride costs 200 yen"
    );
    // The first ballot ever granted would need the ballot's issuer; two at once are refused.
    let grant = town.one(r#"{"id":"g1","type":"grant","at":"2026-11-26T07:50:00+09:00","rider":"adult","asset":"ballot-2026","amount":2}"#);
    assert_eq!(rejected_code(&grant), "one_per_person");
    assert_eq!(town.machine.ledger().account_count(), accounts);
    assert!(town.machine.ledger().account(points.id()).is_none());
    assert!(
        town.machine
            .ledger()
            .account(
                AccountName::Issuer {
                    asset: "ballot-2026"
                }
                .id()
            )
            .is_none()
    );

    // Once the wallet can pay, the same ride opens the holding its points go to.
    town.one(r#"{"id":"u2","type":"topup","at":"2026-11-26T07:55:00+09:00","rider":"adult","asset":"JPY","amount":1000}"#);
    assert!(matches!(town.one(&ride("e2")), Outcome::Ride(_)));
    assert_eq!(town.machine.ledger().account_count(), accounts + 1);
    assert_eq!(town.balance(&points), 10);
}

#[test]
fn a_declined_ride_does_not_count_toward_the_daily_cap() {
    let mut town = Town::new();
    // The visitor pays full fare by IC twice (660 > the 600 cap), but a declined wallet ride in between doesn't count.
    let ride = |id: &str, media: &str| {
        format!(
            r#"{{"id":"{id}","type":"ride","at":"2026-11-26T08:00:00+09:00","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"visitor","media":"{media}"}}"#
        )
    };
    assert!(matches!(town.one(&ride("a", "ic")), Outcome::Ride(_)));
    assert_eq!(
        rejected_code(&town.one(&ride("b", "wallet"))),
        "insufficient_funds"
    );
    let Outcome::Ride(second) = town.one(&ride("c", "ic")) else {
        panic!()
    };
    assert_eq!((second.rider_pays, second.cap_waived), (270, 60));
}

#[test]
fn the_same_id_returns_the_first_answer_and_a_new_body_is_refused() {
    let mut town = Town::new();
    let grant = r#"{"id":"g1","type":"grant","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"muro-pt","amount":50}"#;
    let first = town.one(grant);
    assert_eq!(town.one(grant), first);
    let changed = r#"{"id":"g1","type":"grant","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"muro-pt","amount":51}"#;
    assert_eq!(rejected_code(&town.one(changed)), "id_conflict");
    assert_eq!(
        town.balance(&AccountName::Rider {
            rider: "adult",
            asset: "muro-pt"
        }),
        50
    );
}

#[test]
fn taps_pair_by_rider_and_vehicle_even_when_the_tap_off_arrives_first() {
    let mut town = Town::new();
    let off = town.one(r#"{"id":"off","type":"tap","direction":"off","at":"2026-11-26T08:10:00+09:00","operator":"donan-bus","route":"100100","stop":"0391_B","vehicle":"bus-1","rider":"visitor","media":"cash"}"#);
    assert_eq!(off, Outcome::TapPending);
    let on = town.one(r#"{"id":"on","type":"tap","direction":"on","at":"2026-11-26T07:50:00+09:00","operator":"donan-bus","route":"100100","stop":"0122_A","vehicle":"bus-1","rider":"visitor","media":"cash"}"#);
    let Outcome::TapPaired { ride, with } = on else {
        panic!("{on:?}")
    };
    assert_eq!((&*with, ride.fare), ("off", 330));
    assert!(matches!(
        town.machine.outcome("off"),
        Some(Outcome::TapCompletedBy { .. })
    ));
    assert_eq!(town.machine.pending_taps(), 0);
}

#[test]
fn a_tap_on_without_tap_off_is_charged_the_highest_fare_from_its_stop_once_time_passes() {
    let mut town = Town::new();
    let on = town.one(r#"{"id":"on","type":"tap","direction":"on","at":"2026-11-26T07:00:00+09:00","operator":"donan-bus","route":"100100","stop":"0122_A","vehicle":"bus-1","rider":"visitor","media":"cash"}"#);
    assert_eq!(on, Outcome::TapPending);
    // Another rider's event four hours later moves event time past the 3 h window and 1 h grace.
    town.one(r#"{"id":"later","type":"grant","at":"2026-11-26T11:00:01+09:00","rider":"adult","asset":"muro-pt","amount":1}"#);
    let Some(Outcome::TapExpired { ride }) = town.machine.outcome("on") else {
        panic!("{:?}", town.machine.outcome("on"))
    };
    let longest = town
        .machine
        .programme()
        .max_fare_from(
            town.machine.programme().operator("donan-bus").unwrap(),
            "100100",
            "0122_A",
        )
        .unwrap();
    assert_eq!(ride.fare, longest);
    assert_eq!(town.balance(&FARES), i128::from(ride.rider_pays));
    assert_eq!(town.machine.pending_taps(), 0);
}

#[test]
fn a_ballot_is_used_once_and_the_second_attempt_says_where_and_when() {
    let mut town = Town::new();
    town.one(r#"{"id":"g","type":"grant","at":"2026-12-01T00:00:00+09:00","rider":"adult","asset":"ballot-2026","amount":1}"#);
    assert_eq!(
        rejected_code(&town.one(r#"{"id":"g2","type":"grant","at":"2026-12-01T00:00:00+09:00","rider":"adult","asset":"ballot-2026","amount":1}"#)),
        "already_granted"
    );
    let outcomes = town.batch(&[
        r#"{"id":"v1","type":"redeem","at":"2026-12-13T07:02:00+09:00","rider":"adult","asset":"ballot-2026","place":"station-012"}"#,
        r#"{"id":"v2","type":"redeem","at":"2026-12-13T07:03:00+09:00","rider":"adult","asset":"ballot-2026","place":"station-044"}"#,
    ]);
    assert!(matches!(outcomes[0], Outcome::Redeem { .. }));
    let Outcome::Rejected(second) = &outcomes[1] else {
        panic!()
    };
    assert_eq!(second.code, RejectionCode::AlreadyRedeemed);
    assert!(
        second.message.contains("station-012") && second.message.contains("2026-12-13 07:02"),
        "{}",
        second.message
    );
    assert_eq!(
        town.balance(&AccountName::Place {
            place: "station-012",
            asset: "ballot-2026"
        }),
        1
    );
}

#[test]
fn a_voter_without_a_ballot_is_not_entitled() {
    let mut town = Town::new();
    let outcome = town.one(r#"{"id":"v1","type":"redeem","at":"2026-12-13T07:02:00+09:00","rider":"visitor","asset":"ballot-2026","place":"station-012"}"#);
    assert_eq!(rejected_code(&outcome), "not_entitled");
}

#[test]
fn money_is_topped_up_and_points_are_granted_never_the_other_way() {
    let mut town = Town::new();
    assert_eq!(
        rejected_code(&town.one(r#"{"id":"a","type":"topup","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"muro-pt","amount":5}"#)),
        "wrong_asset_kind"
    );
    assert_eq!(
        rejected_code(&town.one(r#"{"id":"b","type":"grant","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"JPY","amount":5}"#)),
        "wrong_asset_kind"
    );
    assert_eq!(
        rejected_code(&town.one(r#"{"id":"c","type":"topup","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"DOGE","amount":5}"#)),
        "unknown_asset"
    );
}

#[test]
fn the_subsidy_is_charged_to_the_budget_account_which_the_ledger_guards() {
    let mut town = Town::new();
    town.one(r#"{"id":"e1","type":"ride","at":"2026-11-26T07:45:00+09:00","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"senior","media":"cash"}"#);
    let budget = AccountName::Budget {
        budget: "transit-subsidy",
        fiscal_year: 2026,
    };
    assert_eq!(town.balance(&budget), 50_000_000 - 330);
    let account = town.machine.ledger().account(budget.id()).unwrap();
    assert!(
        account
            .flags
            .contains(kanjo_ledger::AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
    );
}

#[test]
fn replaying_the_same_batches_gives_the_same_ledger() {
    let events = [
        r#"{"id":"u1","type":"topup","at":"2026-11-26T07:00:00+09:00","rider":"adult","asset":"JPY","amount":1000}"#,
        r#"{"id":"e1","type":"ride","at":"2026-11-26T07:45:00+09:00","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"adult","media":"wallet"}"#,
        r#"{"id":"on","type":"tap","direction":"on","at":"2026-11-26T07:00:00+09:00","operator":"donan-bus","route":"100100","stop":"0122_A","vehicle":"bus-1","rider":"visitor","media":"cash"}"#,
        r#"{"id":"late","type":"grant","at":"2026-11-26T12:00:00+09:00","rider":"adult","asset":"muro-pt","amount":1}"#,
    ];
    let mut first = Town::new();
    let mut second = Town::new();
    let a: Vec<Outcome> = events
        .iter()
        .flat_map(|event| first.batch(&[event]))
        .collect();
    let b: Vec<Outcome> = events
        .iter()
        .flat_map(|event| second.batch(&[event]))
        .collect();
    assert_eq!(a, b);
    assert_eq!(
        first.machine.ledger().digest(),
        second.machine.ledger().digest()
    );
}
