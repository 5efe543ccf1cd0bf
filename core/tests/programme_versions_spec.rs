//! Programme versions (issue 12) in the machine: each ride is rated by the version in effect at
//! its own time; a new fiscal year's budget is funded when its version is applied and the old
//! year's remainder stays where it is; and every change that would contradict the books is
//! refused with a message naming the key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kanjo_core::answer::Outcome;
use kanjo_core::chart::{AccountName, AssetBook, AssetSection};
use kanjo_core::event::Event;
use kanjo_core::machine::{Machine, MachineConfig, Prepared, VersionEntry};
use kanjo_core::report::trial_balance;
use kanjo_core::riders::parse_riders;
use kanjo_rules::Programme;

const LAST_SECOND: &str = "2026-11-26T23:59:59+09:00";
const MIDNIGHT: &str = "2026-11-27T00:00:00+09:00";

fn programme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml")
}

/// The demo programme's text after `edit`, compiled as the engine compiles it.
fn version(edit: impl Fn(String) -> String) -> (Arc<Programme>, AssetBook) {
    let path = programme_path();
    let text = edit(std::fs::read_to_string(&path).unwrap());
    compile(&path, &text)
}

fn compile(path: &Path, text: &str) -> (Arc<Programme>, AssetBook) {
    let programme = Programme::from_toml(path, text).unwrap();
    let section: AssetSection = toml::from_str(text).unwrap();
    let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
    let assets = AssetBook::from_section("programme.toml", section, &granted).unwrap();
    (Arc::new(programme), assets)
}

/// Version 2 adds a FY2027 transit budget and, funded by it, half fare on the town bus for
/// every resident.
fn half_fare_for_residents(text: String) -> String {
    text + r#"
[[budgets]]
id = "transit-subsidy"
fiscal_year = 2027
limit = 1000

[[rules]]
id = "resident-town-bus-half"
kind = "fare_discount"
operators = ["town-bus"]
eligible = { resident_of = "012050" }
discount = { type = "percent_off", percent = 50, round = "none" }
funded_by = "transit-subsidy"
"#
}

struct Town {
    machine: Machine,
    clock_ns: u64,
}

impl Town {
    fn new() -> Town {
        let (programme, assets) = version(|text| text);
        let mut town = Town {
            machine: Machine::new(programme, assets, MachineConfig::default()).unwrap(),
            clock_ns: 1_000_000_000,
        };
        town.begin();
        let riders = [
            r#"{"rider":"adult","birth_date":"1985-12-12","residence":"012050","verified_at":"2026-04-01","valid_until":"2028-03-31"}"#,
            r#"{"rider":"senior","birth_date":"1948-05-02","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
        ];
        for item in parse_riders(&riders.join("\n")).unwrap() {
            town.machine.upsert_rider(item.unwrap().record).unwrap();
        }
        town
    }

    fn begin(&mut self) {
        self.clock_ns += 1;
        self.machine.begin_batch(self.clock_ns);
    }

    fn apply(&mut self, json: &str) -> Outcome {
        self.begin();
        let outcome = self
            .machine
            .apply(&Prepared::new(Event::parse(json).unwrap()));
        assert!(trial_balance(&self.machine).balanced);
        outcome
    }

    fn ride(&mut self, id: &str, rider: &str, at: &str) -> kanjo_core::answer::RideOutcome {
        let json = format!(
            r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"town-bus","rider":"{rider}","media":"cash"}}"#
        );
        match self.apply(&json) {
            Outcome::Ride(ride) => ride,
            other => panic!("{id}: {other:?}"),
        }
    }

    fn apply_version(&mut self, edit: impl Fn(String) -> String, at: &str) -> Result<u32, String> {
        let (programme, assets) = version(edit);
        let entry = VersionEntry::new(programme.source_digest(), at.parse().unwrap());
        self.begin();
        let result = self
            .machine
            .apply_version(&entry, programme, &assets)
            .map_err(|refusal| refusal.to_string());
        assert!(trial_balance(&self.machine).balanced);
        result
    }

    /// A budget's remaining yen (its balance is on the credit side).
    fn remaining(&self, name: &AccountName) -> i128 {
        let account = self.machine.ledger().account(name.id()).unwrap();
        i128::from(account.credits_posted) - i128::from(account.debits_posted)
    }
}

#[test]
fn a_rule_change_at_midnight_rates_23_59_59_and_00_00_00_by_different_rules() {
    let mut town = Town::new();
    assert_eq!(town.apply_version(half_fare_for_residents, MIDNIGHT), Ok(2));
    let before = town.ride("before", "adult", LAST_SECOND);
    let after = town.ride("after", "adult", MIDNIGHT);
    assert_eq!(
        (before.fare, before.rider_pays, before.discount),
        (100, 100, 0)
    );
    assert_eq!(
        (after.fare, after.rider_pays, after.discount),
        (100, 50, 50)
    );
    // The new rule is appended: rule 9 of version 2, absent from version 1's answer.
    assert_eq!(before.rules & (1 << 8), 0);
    assert_ne!(after.rules & (1 << 8), 0, "the new rule applied");
}

#[test]
fn a_late_upload_across_the_change_is_rated_by_the_rules_of_its_own_time() {
    let mut town = Town::new();
    town.ride("monday-evening", "adult", "2026-11-26T20:00:00+09:00");
    assert_eq!(town.apply_version(half_fare_for_residents, MIDNIGHT), Ok(2));
    town.ride("tuesday", "adult", "2026-11-27T08:00:00+09:00");
    // A validator that was offline uploads Monday's last ride on Tuesday.
    let late = town.ride("monday-late", "adult", "2026-11-26T23:30:00+09:00");
    assert_eq!((late.rider_pays, late.discount), (100, 0));
}

#[test]
fn a_fiscal_year_rollover_funds_the_new_budget_and_leaves_the_old_remainder_in_place() {
    let mut town = Town::new();
    let fy2026 = AccountName::Budget {
        budget: "transit-subsidy",
        fiscal_year: 2026,
    };
    let fy2027 = AccountName::Budget {
        budget: "transit-subsidy",
        fiscal_year: 2027,
    };
    let senior = town.ride("senior-2026", "senior", "2026-11-26T09:00:00+09:00");
    assert_eq!(
        senior.discount, 100,
        "senior-free, funded by the FY2026 budget"
    );
    let remainder_2026 = town.remaining(&fy2026);
    let new_year = "2027-04-01T00:00:00+09:00";
    assert_eq!(town.apply_version(half_fare_for_residents, new_year), Ok(2));
    assert_eq!(
        town.remaining(&fy2027),
        1000,
        "funded from the treasury when applied"
    );
    assert_eq!(
        town.remaining(&fy2026),
        remainder_2026,
        "nothing moved between years"
    );
    // 31 March's last ride is FY2026's; 1 April's first is FY2027's.
    let march = town.ride("adult-2026", "adult", "2027-03-31T23:59:59+09:00");
    assert_eq!(
        march.discount, 0,
        "no resident half fare before the version"
    );
    let april = town.ride("adult-2027", "adult", new_year);
    assert_eq!(april.discount, 50);
    assert_eq!(town.remaining(&fy2027), 950);
    assert_eq!(town.remaining(&fy2026), remainder_2026);
}

#[test]
fn the_same_version_at_the_same_instant_is_applied_once() {
    let mut town = Town::new();
    assert_eq!(town.apply_version(half_fare_for_residents, MIDNIGHT), Ok(2));
    assert_eq!(town.apply_version(half_fare_for_residents, MIDNIGHT), Ok(2));
    assert_eq!(town.machine.versions().len(), 2);
}

#[test]
fn removing_an_asset_that_has_balances_is_refused_by_name() {
    let mut town = Town::new();
    let grant = r#"{"id":"g1","type":"grant","at":"2026-11-26T09:00:00+09:00","rider":"adult","asset":"ballot-2026","amount":1}"#;
    assert!(town.apply(grant).is_accepted());
    let refused = town.apply_version(
        |text| {
            text.replace(
                "code = \"ballot-2026\"\nkind = \"entitlement\"\none_per_person = true\n",
                "",
            )
            .replace("[[assets]]\n\n", "")
        },
        MIDNIGHT,
    );
    let message = refused.unwrap_err();
    assert!(
        message.starts_with("asset ballot-2026: removed, but accounts hold it"),
        "{message}"
    );
}

#[test]
fn changing_an_assets_scale_is_refused_by_name() {
    let mut town = Town::new();
    let refused = town.apply_version(
        |text| {
            text.replace(
                "code = \"muro-pt\"\nkind = \"points\"\n",
                "code = \"muro-pt\"\nkind = \"points\"\nscale = 2\n",
            )
        },
        MIDNIGHT,
    );
    assert_eq!(
        refused.unwrap_err(),
        "asset muro-pt: scale changed from 0 to 2; balances are kept in the old minor units"
    );
}

#[test]
fn lowering_a_budget_below_what_was_used_is_refused_by_name() {
    let mut town = Town::new();
    town.ride("senior-ride", "senior", "2026-11-26T09:00:00+09:00");
    let refused = town.apply_version(
        |text| text.replacen("limit = 50000000", "limit = 99", 1),
        MIDNIGHT,
    );
    assert_eq!(
        refused.unwrap_err(),
        "budget transit-subsidy (FY2026): limit 99 is below the 100 yen already used"
    );
    // At what was used, the limit may go down.
    let lowered = town.apply_version(
        |text| text.replacen("limit = 50000000", "limit = 100", 1),
        MIDNIGHT,
    );
    assert_eq!(lowered, Ok(2));
}

#[test]
fn reusing_a_rule_id_for_a_different_kind_is_refused_by_name() {
    let mut town = Town::new();
    let refused = town.apply_version(
        |text| {
            text.replace("id = \"senior-free\"", "id = \"senior-free-2027\"")
                .replace("id = \"day-cap\"", "id = \"senior-free\"")
        },
        MIDNIGHT,
    );
    assert_eq!(
        refused.unwrap_err(),
        "rule senior-free: was a fare_discount rule, now a daily_cap; a rule id can't be reused \
         for a different kind"
    );
}

#[test]
fn removing_a_rule_or_a_budget_is_refused_by_name() {
    let mut town = Town::new();
    let refused = town.apply_version(
        |text| text.replace("\"welfare\"", "\"welfare-2027\""),
        MIDNIGHT,
    );
    assert!(
        refused
            .unwrap_err()
            .starts_with("budget welfare (FY2026): moved or removed")
    );
}

#[test]
fn a_version_must_take_effect_after_the_rides_already_rated() {
    let mut town = Town::new();
    town.ride("tuesday", "adult", "2026-11-27T08:00:00+09:00");
    let refused = town
        .apply_version(half_fare_for_residents, MIDNIGHT)
        .unwrap_err();
    assert!(refused.starts_with("effective: "), "{refused}");
    assert!(refused.contains("already rated"), "{refused}");
}
