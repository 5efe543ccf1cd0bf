//! A town for the shop payment tests: the machine alone (no store, no threads), a programme from
//! spec/purchases-example or from TOML text, events written as in spec/purchases.md, and answers
//! read back as the JSON clients get.

#![allow(dead_code)] // each test file uses its own part of this helper

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kanjo_core::answer::AnswerContext;
use kanjo_core::chart::{AccountName, AssetBook, AssetSection};
use kanjo_core::event::Event;
use kanjo_core::machine::{Machine, MachineConfig, Prepared};
use kanjo_core::report::trial_balance;
use kanjo_rules::Programme;
use serde_json::Value;

pub fn example_programme() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/purchases-example/programme.toml")
}

pub struct Town {
    pub machine: Machine,
    clock_ns: u64,
}

impl Town {
    /// The programme of spec/purchases-example.
    pub fn example() -> Town {
        let path = example_programme();
        let text = std::fs::read_to_string(&path).expect("the example programme");
        Town::from_toml(&path, &text, MachineConfig::default())
    }

    pub fn from_toml(path: &Path, text: &str, config: MachineConfig) -> Town {
        let programme = Programme::from_toml(path, text).expect("the programme loads");
        let section: AssetSection = toml::from_str(text).expect("the engine section parses");
        let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
        let assets = AssetBook::from_section(&path.display().to_string(), section, &granted)
            .expect("assets and shops are valid");
        let machine = Machine::new(Arc::new(programme), assets, config).expect("genesis");
        Town {
            machine,
            // Batches are processed long after the events of these tests.
            clock_ns: 1_800_000_000_000_000_000,
        }
    }

    /// One batch of events (JSON text), answered as clients read them.
    pub fn batch(&mut self, events: &[String]) -> Vec<Value> {
        self.clock_ns += 1_000;
        self.machine.begin_batch(self.clock_ns);
        let outcomes: Vec<(String, _)> = events
            .iter()
            .map(|json| {
                let event = Event::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
                let id = event.id.clone();
                (id, self.machine.apply(&Prepared::new(event)))
            })
            .collect();
        self.machine.expire_taps();
        self.machine.expire_authorizations();
        let balance = trial_balance(&self.machine);
        assert!(balance.balanced, "trial balance: {:?}", balance.problems);
        let context = AnswerContext {
            programme: self.machine.programme(),
            assets: self.machine.assets(),
        };
        outcomes
            .iter()
            .map(|(id, outcome)| context.to_json(id, outcome))
            .collect()
    }

    pub fn one(&mut self, event: String) -> Value {
        self.batch(&[event]).remove(0)
    }

    /// Closes every open day through `through` in a batch of its own (`kanjo settle`).
    pub fn settle(&mut self, through: &str) -> kanjo_core::settlement::Settlement {
        self.clock_ns += 1_000;
        self.machine.begin_batch(self.clock_ns);
        let command = kanjo_core::settlement::SettleCommand {
            through: through.to_owned(),
        };
        let settled = kanjo_core::settlement::settle(&mut self.machine, &command).expect("settled");
        let balance = trial_balance(&self.machine);
        assert!(balance.balanced, "trial balance: {:?}", balance.problems);
        settled
    }

    /// Posted balance of an account by name, read on its normal side (0 if never opened).
    pub fn balance(&self, name: &str) -> i128 {
        let parsed = AccountName::parse(name).unwrap_or_else(|| panic!("not a name: {name}"));
        let Some(account) = self.machine.ledger().account(parsed.id()) else {
            return 0;
        };
        let credits = i128::from(account.credits_posted) - i128::from(account.debits_posted);
        if parsed.is_credit_normal() {
            credits
        } else {
            -credits
        }
    }

    /// What a rider's (or shop's) account can still pay: posted less holds.
    pub fn available(&self, name: &str) -> u64 {
        let parsed = AccountName::parse(name).expect("an account name");
        self.machine
            .ledger()
            .account(parsed.id())
            .map_or(0, |account| account.available_debit())
    }

    pub fn digest(&self) -> u128 {
        self.machine.ledger().digest()
    }
}

/// `2026-11-26` at `hh:mm[:ss]` Tokyo time.
pub fn at(time: &str) -> String {
    let time = if time.len() == 5 {
        format!("{time}:00")
    } else {
        time.to_owned()
    };
    format!("2026-11-26T{time}+09:00")
}

pub fn topup(id: &str, time: &str, rider: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"topup","at":"{}","rider":"{rider}","asset":"{asset}","amount":{amount}}}"#,
        at(time)
    )
}

pub fn grant(id: &str, time: &str, rider: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"grant","at":"{}","rider":"{rider}","asset":"{asset}","amount":{amount}}}"#,
        at(time)
    )
}

pub fn purchase(id: &str, time: &str, shop: &str, rider: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"purchase","at":"{}","shop":"{shop}","rider":"{rider}","amount":{amount}}}"#,
        at(time)
    )
}

pub fn purchase_with(
    id: &str,
    time: &str,
    shop: &str,
    rider: &str,
    amount: u64,
    pay_with: &[&str],
) -> String {
    format!(
        r#"{{"id":"{id}","type":"purchase","at":"{}","shop":"{shop}","rider":"{rider}","amount":{amount},"pay_with":{}}}"#,
        at(time),
        serde_json::to_string(pay_with).unwrap()
    )
}

pub fn authorize(id: &str, time: &str, shop: &str, rider: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"authorize","at":"{}","shop":"{shop}","rider":"{rider}","amount":{amount}}}"#,
        at(time)
    )
}

pub fn capture(id: &str, time: &str, authorization: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"capture","at":"{}","authorization":"{authorization}","amount":{amount}}}"#,
        at(time)
    )
}

pub fn void(id: &str, time: &str, authorization: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"void","at":"{}","authorization":"{authorization}"}}"#,
        at(time)
    )
}

pub fn refund(id: &str, time: &str, purchase: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"refund","at":"{}","purchase":"{purchase}","amount":{amount}}}"#,
        at(time)
    )
}

pub fn send(id: &str, time: &str, from: &str, to: &str, asset: &str, amount: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"send","at":"{}","from":"{from}","to":"{to}","asset":"{asset}","amount":{amount}}}"#,
        at(time)
    )
}

/// The error code of a refused answer (panics on an accepted one).
pub fn refused(answer: &Value) -> &str {
    assert_eq!(answer["status"], "rejected", "{answer}");
    answer["error"]["code"].as_str().expect("a code")
}

/// `[{"asset": …, "amount": …}, …]` from pairs.
pub fn list(pairs: &[(&str, u64)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(asset, amount)| serde_json::json!({"asset": asset, "amount": amount}))
            .collect(),
    )
}
