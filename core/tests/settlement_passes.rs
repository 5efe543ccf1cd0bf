//! Settlement of pass money (issues 10 and 13): a `per_ride` pass owes the operator each covered
//! ride's fare on the ride's day, from its budget (a `subsidy:{budget}` line, like any subsidised
//! ride); a `flat` pass owes its price on the issue day (a `pass` line). Closing the month moves
//! each exactly once into `payable:operator:{op}:JPY`. (It once counted per-ride fares twice, as
//! subsidy and as pass money, so the operator's payable was carried unpaid.)

use std::path::Path;
use std::sync::Arc;

use kanjo_core::answer::AnswerContext;
use kanjo_core::chart::{AssetBook, AssetSection};
use kanjo_core::event::Event;
use kanjo_core::machine::{Machine, MachineConfig, Prepared};
use kanjo_core::report::trial_balance;
use kanjo_core::riders::parse_riders;
use kanjo_core::settlement::{SettleCommand, payable_account_id, settle};
use kanjo_rules::Programme;

const PROGRAMME: &str = r#"
[town]
code = "282006"
name = "神戸市"
timezone = "Asia/Tokyo"

[[fare_tables]]
operator = "kaigan"
flat_fare = 210

[[fare_tables]]
operator = "city-bus"
flat_fare = 230

[[budgets]]
id = "pupil-fund"
fiscal_year = 2026
limit = 100000000

[[passes]]
id = "pupil-6m"
asset = "pupil-pass"
valid_months = 6
operators = ["kaigan"]
rides_per_day = 2
payment = "per_ride"
funded_by = "pupil-fund"

[[passes]]
id = "city-month"
asset = "city-pass"
valid_days = 30
operators = ["city-bus"]
payment = "flat"
price = 1500
funded_by = "pupil-fund"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "pupil-pass"
kind = "entitlement"

[[assets]]
code = "city-pass"
kind = "entitlement"
"#;

struct Town {
    machine: Machine,
    clock_ns: u64,
}

impl Town {
    fn new() -> Town {
        let path = Path::new("programme.toml");
        let programme = Programme::from_toml(path, PROGRAMME).expect("the programme loads");
        let section: AssetSection = toml::from_str(PROGRAMME).expect("the engine section");
        let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
        let assets = AssetBook::from_section("programme.toml", section, &granted).expect("assets");
        let machine =
            Machine::new(Arc::new(programme), assets, MachineConfig::default()).expect("genesis");
        // Batches are processed in January 2027, after every event and settlement date here.
        let mut town = Town {
            machine,
            clock_ns: 1_800_000_000_000_000_000,
        };
        town.begin();
        let riders = r#"{"rider":"pupil","birth_date":"2013-06-01","residence":"282006","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#;
        for item in parse_riders(riders).expect("riders parse") {
            town.machine
                .upsert_rider(item.expect("valid").record)
                .expect("accepted");
        }
        town.end();
        town
    }

    fn begin(&mut self) {
        self.clock_ns += 1_000;
        self.machine.begin_batch(self.clock_ns);
    }

    fn end(&mut self) {
        let balance = trial_balance(&self.machine);
        assert!(balance.balanced, "trial balance: {:?}", balance.problems);
    }

    /// One batch; every event must be accepted. Returns `rider_pays` of each.
    fn events(&mut self, events: &[String]) -> Vec<serde_json::Value> {
        self.begin();
        let answers = events
            .iter()
            .map(|json| {
                let event = Event::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
                let id = event.id.clone();
                let outcome = self.machine.apply(&Prepared::new(event));
                let context = AnswerContext {
                    programme: self.machine.programme(),
                    assets: self.machine.assets(),
                };
                let answer = context.to_json(&id, &outcome);
                assert_eq!(answer["status"], "accepted", "{json}: {answer}");
                answer
            })
            .collect();
        self.end();
        answers
    }

    fn payable(&self, party: &str) -> i128 {
        self.machine
            .ledger()
            .account(payable_account_id(party, "JPY"))
            .map_or(0, |a| a.credit_balance_posted())
    }
}

fn grant(id: &str, rider: &str, asset: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"grant","at":"{at}","rider":"{rider}","asset":"{asset}","amount":1}}"#
    )
}

fn ride(id: &str, operator: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"{operator}","rider":"pupil","media":"cash"}}"#
    )
}

#[test]
fn per_ride_passes_owe_each_fare_on_its_day_and_flat_passes_their_price_on_the_issue_day() {
    let mut town = Town::new();
    let answers = town.events(&[
        grant(
            "g-pupil",
            "pupil",
            "pupil-pass",
            "2026-11-02T08:00:00+09:00",
        ),
        grant("g-city", "pupil", "city-pass", "2026-11-05T09:00:00+09:00"),
        ride("k-1", "kaigan", "2026-11-02T08:30:00+09:00"),
        ride("k-2", "kaigan", "2026-11-03T08:30:00+09:00"),
        ride("c-1", "city-bus", "2026-11-06T10:00:00+09:00"),
    ]);
    for answer in &answers[2..] {
        assert_eq!(answer["rider_pays"], 0, "a pass covers it: {answer}");
    }
    let settlement = {
        town.begin();
        let command = SettleCommand {
            through: "2026-11-30".into(),
        };
        let done = settle(&mut town.machine, &command).expect("the month closes");
        town.end();
        done
    };
    let lines: Vec<(&str, &str, &str, i128)> = settlement
        .lines
        .iter()
        .map(|l| {
            (
                l.party.as_str(),
                l.day.as_str(),
                l.source.as_str(),
                l.amount_minor,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("operator:city-bus", "2026-11-05", "pass", 1500),
            ("operator:kaigan", "2026-11-02", "subsidy:pupil-fund", 210),
            ("operator:kaigan", "2026-11-03", "subsidy:pupil-fund", 210),
        ],
        "flat: the price on the issue day (the ride owes nothing more); per ride: each fare, \
         once, as its budget's subsidy"
    );
    assert!(settlement.carried.is_empty(), "{:?}", settlement.carried);
    assert!(settlement.lines.iter().all(|line| !line.adjustment));
    assert_eq!(town.payable("operator:kaigan"), 420);
    assert_eq!(town.payable("operator:city-bus"), 1500);
}
