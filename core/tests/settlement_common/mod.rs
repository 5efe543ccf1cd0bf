//! A Muroran town for the settlement tests: the machine alone (no store, no threads), riders,
//! rides and shop purchases written as clients send them, and settlement/payout commands applied
//! in batches as the engine applies them.

#![allow(dead_code)] // each test file uses its own part of this helper

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kanjo_core::answer::{AnswerContext, Outcome};
use kanjo_core::chart::{AccountName, AssetBook, AssetSection};
use kanjo_core::event::Event;
use kanjo_core::machine::{Machine, MachineConfig, Prepared};
use kanjo_core::report::trial_balance;
use kanjo_core::riders::parse_riders;
use kanjo_core::settlement::{
    FinanceRefusal, PayoutCommand, PayoutRecord, SettleCommand, Settlement, payable_account_id,
    payout, settle,
};
use kanjo_rules::Programme;

pub fn programme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml")
}

fn load(path: &Path, text: &str) -> (Arc<Programme>, AssetBook) {
    let programme = Programme::from_toml(path, text).expect("the programme loads");
    let section: AssetSection = toml::from_str(text).expect("the engine section parses");
    let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
    let assets = AssetBook::from_section(&path.display().to_string(), section, &granted)
        .expect("assets and shops are valid");
    (Arc::new(programme), assets)
}

pub struct Town {
    pub machine: Machine,
    clock_ns: u64,
}

impl Town {
    /// Muroran, with a senior and a resident adult.
    pub fn new() -> Town {
        let path = programme_path();
        let text = std::fs::read_to_string(&path).expect("the programme reads");
        let mut town = Town::from_toml(&path, &text);
        town.riders(&[
            r#"{"rider":"senior","birth_date":"1948-05-02","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
            r#"{"rider":"adult","birth_date":"1985-12-12","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
        ]);
        town
    }

    /// A town of the programme `text` (relative paths in it are read beside `path`), no riders.
    /// Batches are processed in January 2027, after every event and settlement date here.
    pub fn from_toml(path: &Path, text: &str) -> Town {
        let (programme, assets) = load(path, text);
        let machine = Machine::new(programme, assets, MachineConfig::default()).expect("genesis");
        Town {
            machine,
            clock_ns: 1_800_000_000_000_000_000,
        }
    }

    fn begin(&mut self) {
        self.clock_ns += 1_000;
        self.machine.begin_batch(self.clock_ns);
    }

    fn end(&mut self) {
        self.machine.expire_taps();
        self.machine.expire_authorizations();
        self.machine.expire_lots();
        let balance = trial_balance(&self.machine);
        assert!(balance.balanced, "trial balance: {:?}", balance.problems);
    }

    pub fn riders(&mut self, lines: &[&str]) {
        self.begin();
        for item in parse_riders(&lines.join("\n")).expect("riders parse") {
            let record = item.expect("a valid rider").record;
            self.machine.upsert_rider(record).expect("rider accepted");
        }
        self.end();
    }

    /// One batch of events; every one must be accepted.
    pub fn events(&mut self, events: &[String]) {
        self.begin();
        for json in events {
            let event = Event::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            let outcome = self.machine.apply(&Prepared::new(event));
            assert!(
                !matches!(outcome, Outcome::Rejected(_)),
                "{json} was refused: {outcome:?}"
            );
        }
        self.end();
    }

    /// One batch of events, answered as clients read them (JSON).
    pub fn answers(&mut self, events: &[String]) -> Vec<serde_json::Value> {
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
                context.to_json(&id, &outcome)
            })
            .collect();
        self.end();
        answers
    }

    /// One batch of events that may be refused (a refund more than the purchase kept).
    pub fn events_accepted_or_not(&mut self, events: &[String]) {
        self.begin();
        for json in events {
            let event = Event::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            self.machine.apply(&Prepared::new(event));
        }
        self.end();
    }

    /// One batch of events; their answers' codes (`accepted`… or the rejection's code).
    pub fn events_answered(&mut self, events: &[String]) -> Vec<String> {
        self.begin();
        let mut codes = Vec::new();
        for json in events {
            let event = Event::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            codes.push(match self.machine.apply(&Prepared::new(event)) {
                Outcome::Rejected(rejection) => rejection.code.code().to_owned(),
                _ => "accepted".to_owned(),
            });
        }
        self.end();
        codes
    }

    pub fn settle(&mut self, through: &str) -> Result<Settlement, FinanceRefusal> {
        self.begin();
        let command = SettleCommand {
            through: through.to_owned(),
        };
        let answer = settle(&mut self.machine, &command);
        self.end();
        answer
    }

    pub fn payout(&mut self, command: &PayoutCommand) -> Result<PayoutRecord, FinanceRefusal> {
        self.begin();
        let answer = payout(&mut self.machine, command);
        self.end();
        answer
    }

    /// Credit balance posted of a chart account by name (0 if never opened).
    pub fn balance(&self, name: &str) -> i128 {
        let parsed = AccountName::parse(name).unwrap_or_else(|| panic!("not a name: {name}"));
        self.machine
            .ledger()
            .account(parsed.id())
            .map_or(0, |account| account.credit_balance_posted())
    }

    /// Credit balance posted of `payable:{party}:{asset}`.
    pub fn payable(&self, party: &str, asset: &str) -> i128 {
        self.machine
            .ledger()
            .account(payable_account_id(party, asset))
            .map_or(0, |account| account.credit_balance_posted())
    }

    pub fn digest(&self) -> u128 {
        self.machine.ledger().digest()
    }
}

/// A senior's cash ride on donan-bus: fare 330, all of it subsidy from `transit-subsidy`.
pub fn senior_ride(id: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"senior","media":"cash"}}"#
    )
}

/// An adult's IC ride on donan-bus: the IC clearing house owes the fare.
pub fn adult_ic_ride(id: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","rider":"adult","media":"ic"}}"#
    )
}

pub fn topup(id: &str, at: &str, rider: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"topup","at":"{at}","rider":"{rider}","asset":"{asset}","amount":{amount}}}"#
    )
}

pub fn grant(id: &str, at: &str, rider: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"grant","at":"{at}","rider":"{rider}","asset":"{asset}","amount":{amount}}}"#
    )
}

pub fn purchase(id: &str, at: &str, shop: &str, amount: u64, asset: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"purchase","at":"{at}","shop":"{shop}","rider":"adult","amount":{amount},"pay_with":["{asset}"]}}"#
    )
}

pub fn refund(id: &str, at: &str, purchase: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"refund","at":"{at}","purchase":"{purchase}","amount":{amount}}}"#
    )
}

/// A November: the adult's wallet and points, a senior's ride on the 26th, ¥1 000 in yen and
/// 300 muro-pt spent at 室蘭書店 (JPY fee 50 bp: ⌊1000 × 50 / 10 000⌋ = 5) on the 27th.
pub fn november(town: &mut Town) {
    town.events(&[
        topup("t-1", "2026-11-20T09:00:00+09:00", "adult", "JPY", 10_000),
        grant(
            "g-1",
            "2026-11-20T09:00:00+09:00",
            "adult",
            "muro-pt",
            1_000,
        ),
        senior_ride("r-1", "2026-11-26T07:45:00+09:00"),
        purchase(
            "p-1",
            "2026-11-27T12:00:00+09:00",
            "muroran-shoten",
            1_000,
            "JPY",
        ),
        purchase(
            "p-2",
            "2026-11-27T12:10:00+09:00",
            "muroran-shoten",
            300,
            "muro-pt",
        ),
    ]);
}

pub fn pay(id: &str, settlement: &str, party: &str, asset: &str, amount: u64) -> PayoutCommand {
    PayoutCommand {
        id: id.to_owned(),
        settlement: settlement.to_owned(),
        party: party.to_owned(),
        asset: asset.to_owned(),
        amount_minor: amount,
        bank_reference: None,
    }
}
