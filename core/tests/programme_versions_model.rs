//! Property: for random rides around a random effective instant, every answer of the machine
//! equals `kanjo rate` (`kanjo_rules::rate_files`, the spec/rating.md contract) run on the
//! programme file of the version in effect at that ride's time.
//!
//! The rides are town-bus rides (no daily cap, budgets far from their limits), so a ride's answer
//! depends only on its version and rider, and each version's rides can be rated in one run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use kanjo_core::answer::Outcome;
use kanjo_core::chart::{AssetBook, AssetSection};
use kanjo_core::event::Event;
use kanjo_core::machine::{Machine, MachineConfig, Prepared, VersionEntry};
use kanjo_core::riders::parse_riders;
use kanjo_rules::{Programme, RuleSet};
use proptest::prelude::*;

const RIDERS: [&str; 3] = [
    r#"{"rider":"adult","birth_date":"1985-12-12","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
    r#"{"rider":"senior","birth_date":"1948-05-02","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
    r#"{"rider":"visitor","birth_date":"1990-01-01","residence":"011002","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
];
const RIDER_IDS: [&str; 3] = ["adult", "senior", "visitor"];
/// 2026-11-26T12:00:00+09:00.
const BASE_S: i64 = 1_795_662_000;

struct Files {
    dir: PathBuf,
    v1: PathBuf,
    v2: PathBuf,
    riders: PathBuf,
    compiled: [(Arc<Programme>, AssetBook); 2],
}

fn compile(path: &Path) -> (Arc<Programme>, AssetBook) {
    let text = std::fs::read_to_string(path).unwrap();
    let programme = Programme::from_toml(path, &text).unwrap();
    let section: AssetSection = toml::from_str(&text).unwrap();
    let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
    let assets = AssetBook::from_section("programme.toml", section, &granted).unwrap();
    (Arc::new(programme), assets)
}

/// Version 1 is the demo programme; version 2 raises the town bus to 130 yen and gives residents
/// half fare on it.
static FILES: LazyLock<Files> = LazyLock::new(|| {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let v1 = root.join("examples/muroran/programme.toml");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("programme-versions-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gtfs = root
        .join("data/gtfs-jp/donan-bus-muroran")
        .canonicalize()
        .unwrap();
    let text = std::fs::read_to_string(&v1)
        .unwrap()
        .replace(
            "gtfs = \"../../data/gtfs-jp/donan-bus-muroran\"",
            &format!("gtfs = {:?}", gtfs.display().to_string()),
        )
        .replace("flat_fare = 100", "flat_fare = 130")
        + r#"
[[rules]]
id = "resident-town-bus-half"
kind = "fare_discount"
operators = ["town-bus"]
eligible = { resident_of = "012050" }
discount = { type = "percent_off", percent = 50, round = "up_10" }
funded_by = "transit-subsidy"
"#;
    let v2 = dir.join("programme-v2.toml");
    std::fs::write(&v2, text).unwrap();
    let riders = dir.join("riders.ndjson");
    std::fs::write(&riders, RIDERS.join("\n") + "\n").unwrap();
    let compiled = [compile(&v1), compile(&v2)];
    Files {
        dir,
        v1,
        v2,
        riders,
        compiled,
    }
});

fn ride_json(index: usize, rider: usize, at_s: i64) -> String {
    let at = jiff::Timestamp::from_second(at_s).unwrap();
    format!(
        r#"{{"id":"r-{index}","type":"ride","at":"{at}","operator":"town-bus","rider":"{}","media":"cash"}}"#,
        RIDER_IDS[rider]
    )
}

/// (fare, rider_pays, discount, rule ids) per ride id, from `kanjo rate` on one file.
fn rate(programme: &Path, events: &[String], case: u64) -> Vec<(String, serde_json::Value)> {
    let path = FILES.dir.join(format!("events-{case}.ndjson"));
    std::fs::write(&path, events.join("\n") + "\n").unwrap();
    let mut out = Vec::new();
    kanjo_rules::rate_files(programme, &FILES.riders, &path, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = value["id"].as_str().unwrap().to_owned();
            let mut rules: Vec<String> = value["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|rule| rule.as_str().unwrap().to_owned())
                .collect();
            rules.sort();
            let key =
                serde_json::json!([value["fare"], value["rider_pays"], value["discount"], rules]);
            (id, key)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_answer_equals_kanjo_rate_with_the_version_in_effect_at_the_rides_time(
        effective_offset_s in -36_000i64..36_000,
        rides in prop::collection::vec((-86_400i64..86_400, 0usize..3), 1..24),
        case in any::<u64>(),
    ) {
        let files = &*FILES;
        let (v1, assets) = files.compiled[0].clone();
        let (v2, assets2) = files.compiled[1].clone();
        let mut machine = Machine::new(v1, assets, MachineConfig::default()).unwrap();
        machine.begin_batch(1_000_000_000);
        for item in parse_riders(&RIDERS.join("\n")).unwrap() {
            machine.upsert_rider(item.unwrap().record).unwrap();
        }
        let effective_s = BASE_S + effective_offset_s;
        let entry = VersionEntry::new(
            v2.source_digest(),
            jiff::Timestamp::from_second(effective_s).unwrap(),
        );
        prop_assert_eq!(machine.apply_version(&entry, Arc::clone(&v2), &assets2), Ok(2));
        let (mut before, mut after) = (Vec::new(), Vec::new());
        let mut answers = Vec::new();
        for (index, (offset_s, rider)) in rides.iter().enumerate() {
            let at_s = BASE_S + offset_s;
            let json = ride_json(index, *rider, at_s);
            let outcome = machine.apply(&Prepared::new(Event::parse(&json).unwrap()));
            let Outcome::Ride(ride) = outcome else {
                panic!("{json}: {outcome:?}");
            };
            let mut rules: Vec<String> =
                RuleSet(ride.rules).iter().map(|rule| v2.rule_id(rule).to_owned()).collect();
            rules.sort();
            answers.push((
                format!("r-{index}"),
                serde_json::json!([ride.fare, ride.rider_pays, ride.discount, rules]),
            ));
            if at_s < effective_s { before.push(json) } else { after.push(json) }
        }
        let mut expected = rate(&files.v1, &before, case);
        expected.extend(rate(&files.v2, &after, case));
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        prop_assert_eq!(answers, expected);
    }
}
