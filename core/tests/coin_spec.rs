//! The stablecoin's issue and redemption (issue 9), one test per rule, on the machine alone.
//! 珠洲's SUZU coin is issued by 北國銀行 (`hokkoku-bank`) against yen and redeemable 1:1;
//! `suzu-pt` points are not. The bakery takes SUZU with a 50 bp fee.

mod shops_common;

use kanjo_core::machine::MachineConfig;
use kanjo_core::report::trial_balance;
use proptest::prelude::*;
use serde_json::{Value, json};
use shops_common::*;

const PROGRAMME: &str = r#"
[town]
code = "172057"
name = "珠洲市"
timezone = "Asia/Tokyo"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "SUZU"
kind = "stablecoin"
issuer = "hokkoku-bank"

[[assets]]
code = "suzu-pt"
kind = "points"

[[shops]]
id = "bakery"
name = "珠洲パン"
name_kana = "ｽｽﾞﾊﾟﾝ"
categories = ["grocery"]
fees_bp = { SUZU = 50 }
"#;

const BACKING: &str = "backing:hokkoku-bank:SUZU";

fn suzu() -> Town {
    Town::from_toml(&example_programme(), PROGRAMME, MachineConfig::default())
}

fn withdraw(id: &str, time: &str, holder: (&str, &str), asset: &str, amount: u64) -> String {
    let (field, name) = holder;
    format!(
        r#"{{"id":"{id}","type":"withdraw","at":"{}","{field}":"{name}","asset":"{asset}","amount":{amount}}}"#,
        at(time)
    )
}

fn topup_from(id: &str, rider: &str, amount: u64, source: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"topup","at":"{}","rider":"{rider}","asset":"SUZU","amount":{amount},"source":"{source}"}}"#,
        at("09:00")
    )
}

/// The trial balance's SUZU line: (issued, redeemed, in circulation, backing).
fn circulation(town: &Town) -> (u128, u128, i128, i128) {
    let balance = trial_balance(&town.machine);
    assert!(balance.balanced, "{:?}", balance.problems);
    let line = balance
        .circulation
        .iter()
        .find(|line| line.asset == "SUZU")
        .expect("a line per stablecoin");
    assert_eq!(line.bank, "hokkoku-bank");
    (
        line.issued,
        line.redeemed,
        line.in_circulation,
        line.backing,
    )
}

fn accepted(answers: &[Value]) {
    for answer in answers {
        assert_eq!(answer["status"], "accepted", "{answer}");
    }
}

#[test]
fn a_topup_of_the_coin_is_an_issue_at_its_bank() {
    let mut town = suzu();
    accepted(&town.batch(&[
        topup("t-1", "09:00", "r-1", "SUZU", 3000),
        topup_from("t-2", "r-2", 500, "hokkoku-bank"),
    ]));
    assert_eq!(town.balance("rider:r-1:SUZU"), 3000);
    assert_eq!(town.balance(BACKING), 3500, "the yen the bank holds");
    assert_eq!(
        town.balance("bank:default:SUZU"),
        0,
        "no plain bank account"
    );
    assert_eq!(circulation(&town), (3500, 0, 3500, 3500));
    let text = trial_balance(&town.machine).to_text();
    assert!(text.contains("流通 in circulation 3500"), "{text}");
}

#[test]
fn a_topup_naming_another_bank_is_wrong_issuer() {
    let mut town = suzu();
    let before = town.digest();
    assert_eq!(
        refused(&town.one(topup_from("t-1", "r-1", 500, "other-bank"))),
        "wrong_issuer"
    );
    assert_eq!(town.digest(), before, "nothing issued");
    // Yen top-ups still come from any bank.
    let yen = r#"{"id":"t-2","type":"topup","at":"2026-11-26T09:00:00+09:00","rider":"r-1","asset":"JPY","amount":500,"source":"other-bank"}"#;
    accepted(&[town.one(yen.to_owned())]);
}

#[test]
fn a_rider_withdraws_coins_back_to_yen_and_gets_a_redemption_record() {
    let mut town = suzu();
    town.one(topup("t-1", "09:00", "r-1", "SUZU", 3000));
    let answer = town.one(withdraw("w-1", "10:00", ("rider", "r-1"), "SUZU", 1200));
    assert_eq!(answer["type"], "withdraw");
    assert_eq!(
        answer["redemption"],
        json!({"bank": "hokkoku-bank", "holder": "rider:r-1", "amount": 1200, "circulation_after": 1800})
    );
    assert_eq!(town.balance("rider:r-1:SUZU"), 1800);
    assert_eq!(town.balance(BACKING), 1800);
    assert_eq!(circulation(&town), (3000, 1200, 1800, 1800));
}

/// r-1 tops up 3 000 SUZU and pays the bakery 1 000 of them (995 to the bakery, 5 of fee).
fn bakery_paid_1000_in_suzu() -> Town {
    let mut town = suzu();
    town.one(topup("t-1", "09:00", "r-1", "SUZU", 3000));
    accepted(&[town.one(purchase_with(
        "p-1",
        "09:30",
        "bakery",
        "r-1",
        1000,
        &["SUZU"],
    ))]);
    town
}

#[test]
fn a_shop_withdraws_what_it_was_paid_and_the_fee_stays_in_circulation() {
    let mut town = bakery_paid_1000_in_suzu();
    assert_eq!(town.balance("shop:bakery:SUZU"), 995);
    let answer = town.one(withdraw("w-1", "18:00", ("shop", "bakery"), "SUZU", 995));
    assert_eq!(answer["redemption"]["holder"], "shop:bakery");
    assert_eq!(answer["redemption"]["circulation_after"], 2005);
    assert_eq!(town.balance("shop:bakery:SUZU"), 0);
    assert_eq!(town.balance("fees:SUZU"), 5);
    assert_eq!(circulation(&town), (3000, 995, 2005, 2005));
}

#[test]
fn closing_the_month_lists_a_shops_coin_receipts_for_the_bank_and_leaves_them_to_redeem() {
    let mut town = bakery_paid_1000_in_suzu();

    let settlement = town.settle("2026-11-30");

    // ¥1 000 less the 50 bp fee: the bank pays 995 when the bakery redeems them.
    let listed: Vec<_> = settlement
        .coin_receipts
        .iter()
        .map(|c| {
            (
                c.party.as_str(),
                c.asset.as_str(),
                c.amount_minor,
                c.account.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![("shop:bakery", "SUZU", 995, "shop:bakery:SUZU")]
    );
    assert!(
        settlement.payables.is_empty(),
        "the town owes nothing for coins"
    );
    assert_eq!(settlement.lines.len(), 1);
    assert_eq!(settlement.lines[0].source, "coin_net");
    assert_eq!(town.balance("shop:bakery:SUZU"), 995, "nothing is swept");
    let made =
        kanjo_core::report::statement::statement(&town.machine, &settlement.id, "shop:bakery")
            .expect("a statement");
    assert_eq!(made.coin_receipts[0].amount_minor, 995);
    let redeemed = town.one(withdraw("w-1", "18:00", ("shop", "bakery"), "SUZU", 995));
    assert_eq!(redeemed["redemption"]["holder"], "shop:bakery");
}

#[test]
fn points_and_yen_are_not_redeemable() {
    let mut town = suzu();
    town.batch(&[
        topup("t-1", "09:00", "r-1", "JPY", 1000),
        grant("g-1", "09:00", "r-1", "suzu-pt", 500),
    ]);
    let before = town.digest();
    for (id, asset) in [("w-1", "suzu-pt"), ("w-2", "JPY")] {
        assert_eq!(
            refused(&town.one(withdraw(id, "10:00", ("rider", "r-1"), asset, 100))),
            "not_redeemable",
            "{asset}"
        );
    }
    assert_eq!(
        refused(&town.one(withdraw("w-3", "10:00", ("rider", "r-1"), "GOLD", 1))),
        "unknown_asset"
    );
    assert_eq!(town.digest(), before);
}

#[test]
fn more_than_the_holder_has_is_insufficient_funds() {
    let mut town = suzu();
    town.one(topup("t-1", "09:00", "r-1", "SUZU", 300));
    let before = town.digest();
    for (id, holder) in [
        ("w-1", ("rider", "r-1")),
        ("w-2", ("rider", "nobody")),
        ("w-3", ("shop", "bakery")),
    ] {
        assert_eq!(
            refused(&town.one(withdraw(id, "10:00", holder, "SUZU", 301))),
            "insufficient_funds",
            "{holder:?}"
        );
    }
    assert_eq!(
        refused(&town.one(withdraw("w-4", "10:00", ("shop", "nowhere"), "SUZU", 1))),
        "unknown_shop"
    );
    assert_eq!(town.digest(), before, "nothing burned, no account opened");
    accepted(&[town.one(withdraw("w-5", "10:00", ("rider", "r-1"), "SUZU", 300))]);
    assert_eq!(circulation(&town), (300, 300, 0, 0));
}

/// Topups, purchases, sends, a refund and withdrawals by riders and the shop.
fn mixed_day() -> Vec<String> {
    vec![
        topup("t-1", "08:00", "r-1", "SUZU", 5000),
        topup("t-2", "08:05", "r-2", "SUZU", 2000),
        purchase_with("p-1", "09:00", "bakery", "r-1", 1800, &["SUZU"]),
        send("s-1", "09:30", "r-1", "r-3", "SUZU", 700),
        withdraw("w-1", "10:00", ("rider", "r-3"), "SUZU", 400),
        purchase_with("p-2", "11:00", "bakery", "r-2", 1999, &["SUZU"]),
        refund("f-1", "11:30", "p-2", 999),
        withdraw("w-2", "18:00", ("shop", "bakery"), "SUZU", 1500),
        topup("t-3", "19:00", "r-1", "SUZU", 100),
        withdraw("w-3", "20:00", ("rider", "r-1"), "SUZU", 2600),
    ]
}

#[test]
fn circulation_is_issued_less_redeemed_is_the_backing_after_a_mixed_day() {
    let mut town = suzu();
    accepted(&town.batch(&mixed_day()));
    let issued = 5000 + 2000 + 100;
    let redeemed = 400 + 1500 + 2600;
    let held: i128 = [
        "rider:r-1:SUZU",
        "rider:r-2:SUZU",
        "rider:r-3:SUZU",
        "shop:bakery:SUZU",
        "fees:SUZU",
    ]
    .iter()
    .map(|name| town.balance(name))
    .sum();
    assert_eq!(held, issued - redeemed);
    assert_eq!(
        circulation(&town),
        (
            issued as u128,
            redeemed as u128,
            issued - redeemed,
            issued - redeemed
        )
    );
    for name in [
        "rider:r-1:SUZU",
        "rider:r-2:SUZU",
        "rider:r-3:SUZU",
        "shop:bakery:SUZU",
    ] {
        assert!(town.balance(name) >= 0, "{name}");
    }
}

#[test]
fn replay_gives_the_same_answers_and_the_same_digest() {
    let mut first = suzu();
    let answers = first.batch(&mixed_day());
    let mut second = suzu();
    assert_eq!(second.batch(&mixed_day()), answers, "a fresh machine");
    assert_eq!(second.digest(), first.digest());
    let before = first.digest();
    assert_eq!(first.batch(&mixed_day()), answers, "the same ids again");
    assert_eq!(first.digest(), before, "change nothing");
}

#[derive(Clone, Debug)]
enum Op {
    Topup { rider: usize, amount: u64 },
    Purchase { rider: usize, amount: u64 },
    Send { from: usize, to: usize, amount: u64 },
    Withdraw { holder: usize, amount: u64 },
}

const RIDERS: [&str; 3] = ["r-1", "r-2", "r-3"];

fn op() -> impl Strategy<Value = Op> {
    let rider = 0..RIDERS.len();
    let amount = 1u64..3000;
    // Topups weigh more, so that most of the others find coins to move.
    prop_oneof![
        3 => (rider.clone(), amount.clone()).prop_map(|(rider, amount)| Op::Topup { rider, amount }),
        2 => (rider.clone(), amount.clone()).prop_map(|(rider, amount)| Op::Purchase { rider, amount }),
        2 => (rider.clone(), rider.clone(), amount.clone()).prop_map(|(from, to, amount)| Op::Send {
            from,
            to,
            amount
        }),
        // Holder RIDERS.len() is the bakery.
        2 => (0..=RIDERS.len(), amount).prop_map(|(holder, amount)| Op::Withdraw { holder, amount }),
    ]
}

fn event(id: &str, op: &Op) -> String {
    match *op {
        Op::Topup { rider, amount } => topup(id, "09:00", RIDERS[rider], "SUZU", amount),
        Op::Purchase { rider, amount } => {
            purchase_with(id, "09:00", "bakery", RIDERS[rider], amount, &["SUZU"])
        }
        Op::Send { from, to, amount } => {
            let to = if to == from {
                (to + 1) % RIDERS.len()
            } else {
                to
            };
            send(id, "09:00", RIDERS[from], RIDERS[to], "SUZU", amount)
        }
        Op::Withdraw { holder, amount } => {
            let holder = RIDERS
                .get(holder)
                .map_or(("shop", "bakery"), |rider| ("rider", rider));
            withdraw(id, "09:00", holder, "SUZU", amount)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn circulation_holds_and_no_balance_goes_negative_whatever_the_mix(
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut town = suzu();
        let (mut issued, mut redeemed) = (0u128, 0u128);
        for (step, op) in ops.iter().enumerate() {
            let answer = town.one(event(&format!("e-{step}"), op));
            if answer["status"] == "accepted" {
                match op {
                    Op::Topup { amount, .. } => issued += u128::from(*amount),
                    Op::Withdraw { amount, .. } => redeemed += u128::from(*amount),
                    Op::Purchase { .. } | Op::Send { .. } => {}
                }
            } else {
                // Only short funds refuse these events.
                prop_assert_eq!(refused(&answer), "insufficient_funds");
            }
            let (got_issued, got_redeemed, in_circulation, backing) = circulation(&town);
            prop_assert_eq!((got_issued, got_redeemed), (issued, redeemed));
            let expected = (issued - redeemed) as i128;
            prop_assert_eq!(in_circulation, expected);
            prop_assert_eq!(backing, expected);
            for name in RIDERS
                .iter()
                .map(|rider| format!("rider:{rider}:SUZU"))
                .chain(["shop:bakery:SUZU".to_owned(), "fees:SUZU".to_owned()])
            {
                prop_assert!(town.balance(&name) >= 0, "{}", name);
            }
        }
    }
}

#[test]
fn a_coin_without_an_issuer_keeps_plain_topups_and_is_not_redeemable() {
    // spec/purchases-example's SUZU names no bank: logs written before issue 9 replay as they were.
    let mut town = Town::example();
    accepted(&[town.one(topup("t-1", "09:00", "r-1", "SUZU", 800))]);
    assert_eq!(town.balance("bank:default:SUZU"), 800);
    assert_eq!(town.balance("backing:default:SUZU"), 0);
    assert_eq!(
        refused(&town.one(withdraw("w-1", "10:00", ("rider", "r-1"), "SUZU", 100))),
        "not_redeemable"
    );
    assert!(trial_balance(&town.machine).circulation.is_empty());
}
