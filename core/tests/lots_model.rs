//! Model-based property test of point lots: random grants, purchases, sends, refunds and waiting
//! on a 10-day asset, applied to the machine and to a tiny reference model (a list of lots per
//! rider, spent earliest end first, lapsed ones moved to breakage). After every step:
//! - every answer is the model's (accepted or `insufficient_funds`);
//! - every rider's lots are the model's, in spend order, and no lot is empty or negative;
//! - Σ lots = the rider's balance, and breakage is the model's;
//! - the trial balance holds (the test town checks it after every batch).
//!
//! At the end the same events are replayed into a fresh machine, batch for batch: the answers,
//! the lots and the ledger digest are identical.

mod shops_common;

use kanjo_core::machine::MachineConfig;
use proptest::prelude::*;
use shops_common::*;

const PROGRAMME: &str = r#"
[town]
code = "434477"
name = "熊本"
timezone = "Asia/Tokyo"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "act-pt"
kind = "points"
expires_after_days = 10
transferable = true

[[shops]]
id = "shop"
name = "店"
name_kana = "ﾐｾ"
categories = ["grocery"]
"#;

const RIDERS: [&str; 2] = ["r-1", "r-2"];
const START_S: i64 = 1_775_000_000; // 2026-04-01, before the test town's batch clock
const LIFE_S: i64 = 10 * 86_400;
const NS: i128 = 1_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Grant { rider: usize, amount: u64 },
    Spend { rider: usize, amount: u64 },
    Send { from: usize, amount: u64 },
    Refund { purchase: usize, amount: u64 },
    Wait { hours: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 1..200u64).prop_map(|(rider, amount)| Op::Grant { rider, amount }),
        3 => (0..2usize, 1..250u64).prop_map(|(rider, amount)| Op::Spend { rider, amount }),
        1 => (0..2usize, 1..100u64).prop_map(|(from, amount)| Op::Send { from, amount }),
        2 => (0..8usize, 1..100u64).prop_map(|(purchase, amount)| Op::Refund { purchase, amount }),
        3 => (1..48i64).prop_map(|hours| Op::Wait { hours }),
    ]
}

/// The reference: lots as (left, end_ns) in spend order, per rider.
#[derive(Default)]
struct Model {
    lots: [Vec<(u64, i128)>; 2],
    breakage: u64,
    /// Accepted purchases: rider and the (taken, end) slices, in taking order.
    purchases: Vec<(usize, Vec<(u64, i128)>)>,
}

impl Model {
    fn lapse(&mut self, now_ns: i128) {
        for lots in &mut self.lots {
            while let Some(&(left, end)) = lots.first() {
                if end > now_ns {
                    break;
                }
                self.breakage += left;
                lots.remove(0);
            }
        }
    }

    fn add(&mut self, rider: usize, left: u64, end: i128) {
        let lots = &mut self.lots[rider];
        let at = lots.partition_point(|lot| lot.1 < end);
        match lots.get_mut(at) {
            Some(lot) if lot.1 == end => lot.0 += left,
            _ => lots.insert(at, (left, end)),
        }
    }

    fn take(&mut self, rider: usize, mut amount: u64) -> Option<Vec<(u64, i128)>> {
        let lots = &mut self.lots[rider];
        if lots.iter().map(|lot| lot.0).sum::<u64>() < amount {
            return None;
        }
        let mut slices = Vec::new();
        while amount > 0 {
            let taken = lots[0].0.min(amount);
            lots[0].0 -= taken;
            amount -= taken;
            slices.push((taken, lots[0].1));
            if lots[0].0 == 0 {
                lots.remove(0);
            }
        }
        Some(slices)
    }

    /// A refund: reverse of what was taken, lapsed slices to breakage. None if it is more than
    /// is left to refund.
    fn refund(&mut self, purchase: usize, amount: u64, now_ns: i128) -> Option<()> {
        let (rider, slices) = self.purchases.get_mut(purchase)?;
        let rider = *rider;
        if slices.iter().map(|slice| slice.0).sum::<u64>() < amount {
            return None;
        }
        let mut left = amount;
        let mut back = Vec::new();
        for slice in slices.iter_mut().rev() {
            let part = slice.0.min(left);
            slice.0 -= part;
            left -= part;
            if part > 0 {
                back.push((part, slice.1));
            }
        }
        for (part, end) in back {
            if end <= now_ns {
                self.breakage += part;
            } else {
                self.add(rider, part, end);
            }
        }
        Some(())
    }
}

fn at(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).unwrap().to_string()
}

fn event(op: &Op, step: usize, now_s: i64, purchase_ids: &[String]) -> Option<String> {
    let at = at(now_s);
    Some(match *op {
        Op::Grant { rider, amount } => format!(
            r#"{{"id":"e-{step}","type":"grant","at":"{at}","rider":"{}","asset":"act-pt","amount":{amount}}}"#,
            RIDERS[rider]
        ),
        Op::Spend { rider, amount } => format!(
            r#"{{"id":"e-{step}","type":"purchase","at":"{at}","shop":"shop","rider":"{}","amount":{amount},"pay_with":["act-pt"]}}"#,
            RIDERS[rider]
        ),
        Op::Send { from, amount } => format!(
            r#"{{"id":"e-{step}","type":"send","at":"{at}","from":"{}","to":"{}","asset":"act-pt","amount":{amount}}}"#,
            RIDERS[from],
            RIDERS[1 - from]
        ),
        Op::Refund { purchase, amount } => format!(
            r#"{{"id":"e-{step}","type":"refund","at":"{at}","purchase":"{}","amount":{amount}}}"#,
            purchase_ids.get(purchase)?
        ),
        Op::Wait { .. } => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn lots_follow_the_reference_model(ops in prop::collection::vec(op(), 1..60)) {
        let mut town = Town::from_toml(&example_programme(), PROGRAMME, MachineConfig::default());
        let mut model = Model::default();
        let mut now_s = START_S;
        let mut purchase_ids = Vec::new();
        let mut sent = Vec::new();
        let mut answers = Vec::new();
        for (step, op) in ops.iter().enumerate() {
            if let Op::Wait { hours } = op {
                now_s += hours * 3_600;
            }
            let Some(json) = event(op, step, now_s, &purchase_ids) else {
                continue;
            };
            let now_ns = i128::from(now_s) * NS;
            model.lapse(now_ns);
            let expected = match *op {
                Op::Grant { rider, amount } => {
                    model.add(rider, amount, now_ns + i128::from(LIFE_S) * NS);
                    true
                }
                Op::Spend { rider, amount } => match model.take(rider, amount) {
                    Some(slices) => {
                        model.purchases.push((rider, slices));
                        purchase_ids.push(format!("e-{step}"));
                        true
                    }
                    None => false,
                },
                Op::Send { from, amount } => match model.take(from, amount) {
                    Some(slices) => {
                        for (part, end) in slices {
                            model.add(1 - from, part, end);
                        }
                        true
                    }
                    None => false,
                },
                Op::Refund { purchase, amount } => model.refund(purchase, amount, now_ns).is_some(),
                Op::Wait { .. } => unreachable!(),
            };
            sent.push(json.clone());
            let answer = town.one(json);
            let accepted = answer["status"] == "accepted";
            answers.push(answer.clone());
            prop_assert_eq!(accepted, expected, "step {}: {:?} → {}", step, op, answer);
            for (index, rider) in RIDERS.iter().enumerate() {
                let lots: Vec<(u64, i128)> = town
                    .machine
                    .lots(rider, "act-pt")
                    .unwrap()
                    .iter()
                    .map(|lot| (lot.left_minor, lot.ends_ns))
                    .collect();
                prop_assert!(lots.iter().all(|lot| lot.0 > 0), "no empty lot");
                prop_assert_eq!(&lots, &model.lots[index], "{}'s lots after {:?}", rider, op);
                let sum: u64 = lots.iter().map(|lot| lot.0).sum();
                prop_assert_eq!(
                    i128::from(sum),
                    town.balance(&format!("rider:{rider}:act-pt")),
                    "Σ lots = balance"
                );
            }
            prop_assert_eq!(town.balance("expired:act-pt"), i128::from(model.breakage));
        }
        let mut replayed = Town::from_toml(&example_programme(), PROGRAMME, MachineConfig::default());
        for (json, answer) in sent.iter().zip(&answers) {
            prop_assert_eq!(&replayed.one(json.clone()), answer, "replay answers {} again", json);
        }
        prop_assert_eq!(replayed.digest(), town.digest(), "replay gives the same digest");
        for rider in RIDERS {
            prop_assert_eq!(
                replayed.machine.lots(rider, "act-pt").unwrap(),
                town.machine.lots(rider, "act-pt").unwrap(),
                "replay gives {}'s lots again", rider
            );
        }
    }
}
